"""Turn the table function ``chrono_changes('t', start, end)`` into a temporal reference.

    SELECT * FROM chrono_changes('users', 100, 200)
    -> SELECT * FROM users FOR SYSTEM_TIME CHANGES (100, 200) AS chrono_changes

The rendering step (sql/snapshots.py ``changes``) then lists the rows inserted, updated
and deleted in ``(start, end]`` with their before and after values. ``end`` may be omitted.
"""

from __future__ import annotations

from sqlglot import exp

FUNCTION = "chrono_changes"


class ChangesArgumentError(ValueError):
    """The table function was called with the wrong arguments."""


def changes_function(expression: exp.Expr) -> exp.Expr:
    for table in list(expression.find_all(exp.Table)):
        call = table.this
        if not isinstance(call, exp.Anonymous) or call.name.lower() != FUNCTION:
            continue
        args = list(call.expressions)
        if not 2 <= len(args) <= 3 or not (isinstance(args[0], exp.Literal) and args[0].is_string):
            raise ChangesArgumentError(
                f"{FUNCTION}('table', start[, end]) takes a table name and one or two points "
                "in time"
            )
        start = args[1]
        end = args[2] if len(args) == 3 else exp.Literal.number(2**62 // 1_000_000)
        target = exp.Table(
            this=exp.to_identifier(args[0].this, quoted=True),
            alias=table.args.get("alias")
            or exp.TableAlias(this=exp.to_identifier(FUNCTION, quoted=True)),
            version=exp.Version(
                this="TIMESTAMP", kind="CHANGES", expression=exp.Tuple(expressions=[start, end])
            ),
        )
        table.replace(target)
    return expression
