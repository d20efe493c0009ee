from chronomap.demo import run_demo

run_demo()
