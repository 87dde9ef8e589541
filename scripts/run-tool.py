#!/usr/bin/env python3
"""The one launcher behind the guide's script paths (scripts/*/NAME.py are links to it).

It runs the command its link is named after (pyproject.toml's [project.scripts]) from the llmobs
package of this clone, so the scripts work without installing anything; on the hosts the same
commands are the package's entry points.
"""

import runpy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from llmobs.cli import tool_module

name = Path(sys.argv[0]).name
module = tool_module(name)
if module is None:
    sys.exit(f"run-tool.py: {name} is not one of the commands of pyproject.toml's [project.scripts]")
runpy.run_module(module, run_name="__main__")
