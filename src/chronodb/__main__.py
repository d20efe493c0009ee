from chronodb.cli import main

main(prog_name="chronodb")
