import json
import subprocess
import sys


def test_importing_the_core_imports_nothing_heavy():
    code = (
        "import json, sys, studio.core, studio.core.library, studio.core.settings, studio.plugins, studio.jobs;"
        "print(json.dumps(sorted(m for m in ('torch','PySide6','diffusers','transformers','onnxruntime')"
        " if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
