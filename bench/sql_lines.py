"""Count the lines of hand-written SQL in the app: lines of string literals, in the apps'
and the project's code (not tests, migrations or the benchmark), that hold an upper-case
SQL keyword. A rough measure (a docstring that names SELECT counts too), the same for
every version it is run on.

    python bench/sql_lines.py [checkout]
"""

import ast
import re
import sys
from pathlib import Path

KEYWORD = re.compile(
    r"\b(SELECT|INSERT|UPDATE|DELETE|FROM|WHERE|RETURNING|VALUES|JOIN|SET|PREPARE|EXECUTE"
    r"|LOCK|WITH|CASE|WHEN)\b"
)
SKIPPED = {".venv", "bench", "tests", "migrations", "node_modules"}


def sql_lines(path: Path) -> int:
    source = path.read_text()
    lines = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = ast.get_source_segment(source, node) or ""
            lines.update(
                node.lineno + i for i, line in enumerate(text.splitlines()) if KEYWORD.search(line)
            )
    return len(lines)


def main(root: Path) -> None:
    counts = {}
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if SKIPPED & set(relative.parts) or relative.parts[0].startswith("."):
            continue
        if count := sql_lines(path):
            counts[str(relative)] = count
    print(f"{sum(counts.values())} lines in {len(counts)} modules")
    for module, count in sorted(counts.items(), key=lambda item: -item[1]):
        print(f"  {count:3d}  {module}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve())
