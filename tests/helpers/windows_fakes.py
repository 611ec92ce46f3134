"""Recording stand-ins for Windows' `powershell`, `cmd` and `wsl`, for Linux test runs.

Each is a small Python program written into a folder that the test puts first on the (fake
Windows) PATH. It appends its argv to a JSON-lines log, then does what the real program would
do with the command line the launcher built, closely enough to run the real probe:

- powershell: parses `-Command` with PowerShell's quoting rules ('…' with '' doubled).
  Activate.ps1 is refused with the real error text unless `-ExecutionPolicy Bypass` was given,
  or always when FAKE_PS_POLICY=group-policy (a Group Policy beats Bypass); like
  the real PowerShell it then carries on, so `python` runs outside the venv.
- cmd: `/d /c call <activate.bat> && python …`; the classic activate.bat bug is reproduced: a
  `)` in the venv path ends an `if (…)` block early ("… was unexpected at this time.").
- wsl: `-e bash -lc <command>` runs the real bash with a Linux PATH.

The Windows side's PATH uses `;`, as on Windows; programs are looked up as `name.exe`, then
`name`, and must be executable.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

_COMMON = r"""
import json, os, subprocess, sys

def log(program):
    path = os.environ.get("FAKE_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"program": program, "argv": sys.argv[1:]}) + "\n")

def which(name, env):
    for folder in env.get("PATH", "").split(";"):
        for candidate in (name + ".exe", name):
            path = os.path.join(folder, candidate)
            if folder and os.path.isfile(path) and os.access(path, os.X_OK):
                return path
    return None

def activate(env, script):
    scripts = os.path.dirname(script)
    env["VIRTUAL_ENV"] = os.path.dirname(scripts)
    env["PATH"] = scripts + ";" + env.get("PATH", "")
"""

POWERSHELL = (
    _COMMON
    + r'''
QUOTES = "'\u2018\u2019\u201a\u201b"

def statements(text):
    """Split a -Command string at ; outside quotes into token lists (PowerShell rules)."""
    result, tokens, word, quoted, i = [], [], None, False, 0
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch in QUOTES:
                if i + 1 < len(text) and text[i + 1] in QUOTES:
                    word += ch
                    i += 2
                    continue
                quoted = False
            else:
                word += ch
        elif ch in QUOTES:
            quoted, word = True, word or ""
        elif ch == ";" or ch.isspace():
            if word is not None:
                tokens.append(word)
                word = None
            if ch == ";":
                result.append(tokens)
                tokens = []
        else:
            word = (word or "") + ch
        i += 1
    if quoted:
        sys.exit("fake powershell: unterminated string")
    if word is not None:
        tokens.append(word)
    if tokens:
        result.append(tokens)
    return result

log("powershell")
argv = sys.argv[1:]
bypass = "-ExecutionPolicy" in argv and argv[argv.index("-ExecutionPolicy") + 1] == "Bypass"
group_policy = os.environ.get("FAKE_PS_POLICY") == "group-policy"
env = dict(os.environ)
code = 0
for tokens in statements(argv[argv.index("-Command") + 1]):
    if tokens[0] == "exit":
        sys.exit(code if tokens[1] == "$LASTEXITCODE" else int(tokens[1]))
    assert tokens[0] == "&", tokens
    target, args = tokens[1], tokens[2:]
    if target.lower().endswith(".ps1"):
        if group_policy or not bypass:
            print(f"& : File {target} cannot be loaded because running scripts is disabled on "
                  "this system. For more information, see about_Execution_Policies.",
                  file=sys.stderr)
            continue
        if not os.path.isfile(target):
            print(f"& : The term '{target}' is not recognized", file=sys.stderr)
            code = 1
            continue
        activate(env, target)
        continue
    program = which(target, env)
    if program is None:
        print(f"& : The term '{target}' is not recognized", file=sys.stderr)
        code = 1
        continue
    code = subprocess.call([program, *args], env=env)
sys.exit(code)
'''
)

CMD = (
    _COMMON
    + r"""
log("cmd")
argv = sys.argv[1:]
assert argv[:3] == ["/d", "/c", "call"] and argv[4] == "&&", argv
script, program, args = argv[3], argv[5], argv[6:]
if ")" in script:
    after = script[script.index(")") + 1:].lstrip("\\/")
    segment = after.replace("/", "\\").split("\\")[0]
    print(f"\\{segment} was unexpected at this time.", file=sys.stderr)
    sys.exit(255)
if not os.path.isfile(script):
    print("The system cannot find the path specified.", file=sys.stderr)
    sys.exit(1)
env = dict(os.environ)
activate(env, script)
found = which(program, env)
if found is None:
    print(f"'{program}' is not recognized as an internal or external command", file=sys.stderr)
    sys.exit(9009)
sys.exit(subprocess.call([found, *args], env=env))
"""
)

WSL = (
    _COMMON
    + r"""
log("wsl")
argv = sys.argv[1:]
assert argv[:3] == ["-e", "bash", "-lc"] and len(argv) == 4, argv
env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")}
for entry in filter(None, os.environ.get("WSLENV", "").split(":")):
    name = entry.split("/")[0]
    if name in os.environ:
        env[name] = os.environ[name]
sys.exit(subprocess.call(["bash", "-lc", argv[3]], env=env))
"""
)

PROGRAMS = {"powershell": POWERSHELL, "cmd": CMD, "wsl": WSL}


def install(folder: Path, *names: str) -> Path:
    """Write the fake programs `names` into `folder` (made executable); returns `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = folder / name
        path.write_text(f"#!{sys.executable}\n{PROGRAMS[name]}", encoding="utf-8")
        path.chmod(0o755)
    return folder


def read_log(path: Path) -> list[dict[str, object]]:
    """The recorded calls, in order: [{"program": "cmd", "argv": [...]}, …]."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
