"""Factory networks are often offline: every script, stylesheet and font comes from the app itself.
The vendored chart library is the pinned release it says it is, with its licence."""
import hashlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "app"
CHARTJS = ROOT / "static" / "vendor" / "chartjs"
CHARTJS_SHA256 = "87364cc2b2a76a6684929e7d6b80b18a897794db38400caff1fcf1791c6925d2"  # chart.js 4.6.1


def test_chartjs_is_the_pinned_release_with_its_licence():
    script = (CHARTJS / "chart.umd.min.js").read_bytes()
    assert hashlib.sha256(script).hexdigest() == CHARTJS_SHA256
    assert script.startswith(b"/*!\n * Chart.js v4.6.1")
    assert "MIT License" in (CHARTJS / "LICENSE.md").read_text()
    assert CHARTJS_SHA256 in (CHARTJS / "README.md").read_text()


def test_no_template_or_script_of_ours_loads_anything_from_the_internet():
    external = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.I)
    fetched = re.compile(r"""(?:fetch|import|url)\(\s*["'](?:https?:)?//""", re.I)
    offenders = []
    for path in list((ROOT / "templates").rglob("*.html")) + list((ROOT / "static" / "mes").rglob("*.*")):
        text = path.read_text(errors="replace")
        if external.search(text) or fetched.search(text):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
