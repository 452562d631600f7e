"""The command's bash completion (cli/pvestorage.bash-completion) the way bash
calls it: a real interactive bash on a pseudo-terminal, keys typed, what bash
shows read back -- with bash's default COMP_WORDBREAKS (which holds ':' and
'='), without ':' in it, and with the bash-completion package loaded."""
import fcntl
import os
import pty
import re
import select
import signal
import struct
import termios
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.environ.get("PVS_CLI") or os.path.join(ROOT, "build", "pvestorage")
COMPLETION = os.environ.get("PVS_COMPLETION") or os.path.join(ROOT, "cli", "pvestorage.bash-completion")
BASH_COMPLETION = os.environ.get("PVS_BASH_COMPLETION") or "/usr/share/bash-completion/bash_completion"
PROMPT = b"PVS> "

pytestmark = [
    pytest.mark.skipif(not os.access(CLI, os.X_OK),
                       reason=f"the command is not built ({CLI}): run scripts/build.sh"),
    pytest.mark.skipif(not os.access("/bin/bash", os.X_OK), reason="no /bin/bash"),
    pytest.mark.skipif(bool(os.environ.get("PVS_UNDER_VALGRIND")),
                       reason="drives bash and the command, not the extension"),
]

# a name that runs a command if the completion expands what it offers
HOSTILE = "vm-100-disk-$(touch${IFS}pwned).raw"


class Bash:
    """An interactive bash on a pty, reading no user file, the built command
    first on PATH and the completion file sourced (after bash-completion's
    own when given)."""

    def __init__(self, cwd, setup=b"", bash_completion=None):
        env = {"PATH": os.path.dirname(CLI) + ":/usr/bin:/bin", "HOME": cwd, "TERM": "dumb",
               "INPUTRC": "/dev/null", "LANG": "C.UTF-8", "PS1": PROMPT.decode()}
        self.buf = b""
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.chdir(cwd)
            os.execve("/bin/bash", ["bash", "--norc", "--noprofile", "-i"], env)
        # a wide terminal: readline draws every line whole, the prompt first
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 1000, 0, 0))
        self.expect(PROMPT)
        lines = [b"bind 'set bell-style none'", b"bind 'set completion-query-items 1000'",
                 b"bind 'set page-completions off'"]
        if bash_completion:
            lines.append(b". " + bash_completion.encode())
        lines += [b". " + COMPLETION.encode(), setup, b"echo READY"]
        self.send(b"; ".join(x for x in lines if x) + b"\n")
        self.expect(b"READY\r\n" + PROMPT)

    def send(self, keys):
        os.write(self.fd, keys)

    def expect(self, want, timeout=10.0):
        """What bash shows until WANT (bytes, or a compiled pattern) has been
        shown; what came after it is kept for the next call."""
        end = time.time() + timeout
        while True:
            m = want.search(self.buf) if hasattr(want, "search") else None
            stop = m.end() if m else (self.buf.index(want) + len(want) if not hasattr(want, "search")
                                      and want in self.buf else -1)
            if stop >= 0:
                out, self.buf = self.buf[:stop], self.buf[stop:]
                return out
            r, _, _ = select.select([self.fd], [], [], 0.05)
            if time.time() > end:
                raise AssertionError(f"bash did not show {want!r}; it showed {self.buf!r}")
            if r:
                try:
                    self.buf += os.read(self.fd, 65536)
                except OSError:
                    raise AssertionError(f"bash is gone; it showed {self.buf!r}")

    def type_line(self, keys):
        """Type KEYS (completions included); then the line as bash holds it,
        each word read back by printf, put in front of it (C-a)."""
        self.send(keys)
        time.sleep(0.3)
        self.send(b"\x01printf '<%s>\\n' \n")
        out = self.expect(re.compile(rb"\n(<[^\r\n]*>\r?\n)+" + re.escape(PROMPT)))
        return [w.decode() for w in re.findall(rb"^<([^\r\n]*)>\r?$", out, re.M)]

    def close(self):
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        os.close(self.fd)


@pytest.fixture
def node(tmp_path):
    """A node's root with a dir storage 'store' holding volumes (and a
    storage that does not start with 'st'), and the configuration also at a
    path of its own, for --config."""
    root = tmp_path / "root"
    store = root / "store"
    (root / "etc" / "pve").mkdir(parents=True)
    for f in ["images/100/vm-100-disk-0.raw", "images/100/vm-100-disk-1.raw", "images/100/" + HOSTILE,
              "template/iso/x.iso"]:
        (store / f).parent.mkdir(parents=True, exist_ok=True)
        (store / f).write_text("")
    cfg = f"dir: store\n\tpath {store}\n\tcontent images,iso\n\ndir: backup1\n\tpath {root}/b\n\tcontent backup\n"
    (root / "etc" / "pve" / "storage.cfg").write_text(cfg)
    (tmp_path / "other.cfg").write_text(cfg)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    return {"root": str(root), "config": str(tmp_path / "other.cfg"), "cwd": str(cwd)}


def bash_variants():
    yield pytest.param((b"", None), id="default-wordbreaks")
    yield pytest.param((b"COMP_WORDBREAKS=${COMP_WORDBREAKS//:/}", None), id="no-colon-in-wordbreaks")
    yield pytest.param((b"", "bash-completion"), id="with-bash-completion")


@pytest.fixture(params=list(bash_variants()))
def bash(request, node):
    setup, with_package = request.param
    if with_package and not os.path.isfile(BASH_COMPLETION):
        pytest.skip(f"the bash-completion package is not installed ({BASH_COMPLETION}; "
                    "scripts/install-deps.sh installs it, or set PVS_BASH_COMPLETION)")
    b = Bash(node["cwd"], setup, BASH_COMPLETION if with_package else None)
    b.colon_breaks = not setup
    yield b
    b.close()
    assert not os.path.exists(os.path.join(node["cwd"], "pwned")), "completing ran a command from a volume name"


def listing(out):
    """The candidates bash listed (the lines between the typed line and the
    prompt it draws again)."""
    lines = out.split(b"\r\n")
    return sorted(w.decode() for line in lines[1:-1] for w in line.split())


@pytest.mark.parametrize("where", ["--root", "--config"])
def test_volume_ids(bash, node, where):
    """`activate st<TAB>` gives `store:`, `<TAB><TAB>` lists the volumes, a
    unique start completes the volume ID -- after --root DIR or --config FILE."""
    arg = (node["root"] if where == "--root" else node["config"]).encode()
    bash.send(b"pvestorage " + where.encode() + b" " + arg + b" activate st\t")
    bash.expect(b" activate store:")
    bash.send(b"\t\t")
    out = bash.expect(re.compile(re.escape(PROMPT) + rb"[^\r\n]* activate store:"))
    names = ["100/vm-100-disk-0.raw", "100/vm-100-disk-1.raw", "100/" + HOSTILE, "iso/x.iso"]
    want = sorted(names if bash.colon_breaks else ["store:" + n for n in names])
    assert listing(out) == want
    words = bash.type_line(b"i\t")
    assert words == ["pvestorage", where, arg.decode(), "activate", "store:iso/x.iso"]
    words = bash.type_line(b"pvestorage " + where.encode() + b" " + arg + b" map store:100/vm-100-disk-1\t")
    assert words[-2:] == ["map", "store:100/vm-100-disk-1.raw"]


def test_root_under_home(bash, node):
    """`--root ~/DIR` (the shell expands ~ only when it runs the line): the
    completion finds the storages and asks the command for the volumes there
    too (it once expanded ~ for the one and not the other)."""
    os.symlink(node["root"], os.path.join(node["cwd"], "node"))   # HOME is cwd
    bash.send(b"pvestorage --root ~/node activate store:\t\t")
    out = bash.expect(re.compile(re.escape(PROMPT) + rb"[^\r\n]* activate store:"))
    names = ["100/vm-100-disk-0.raw", "100/vm-100-disk-1.raw", "100/" + HOSTILE, "iso/x.iso"]
    assert listing(out) == sorted(names if bash.colon_breaks else ["store:" + n for n in names])


def test_hint_values(bash):
    """`--hint guest-is-windows=<TAB><TAB>` offers the values (bash breaks
    the word at '=' by default), and a hint's name completes."""
    bash.send(b"pvestorage verify-hints --hint guest-is-windows=\t\t")
    out = bash.expect(re.compile(re.escape(PROMPT) + rb"pvestorage verify-hints --hint guest-is-windows="))
    assert listing(out[out.index(b"windows="):]) == ["0", "1"]
    words = bash.type_line(b"1 --hint plugin-may\t")
    assert words == ["pvestorage", "verify-hints", "--hint", "guest-is-windows=1", "--hint",
                     "plugin-may-deactivate-volume="]


def test_commands_and_options(bash, node):
    """Commands, global options and a command's options; --config=FILE is
    one word to the completion, though bash breaks it at '='."""
    assert bash.type_line(b"pvestorage --ro\t/ deac\t--sn\t") == ["pvestorage", "--root", "/", "deactivate",
                                                                     "--snapshot"]
    assert bash.type_line(b"pvestorage au\t") == ["pvestorage", "audit"]
    cfg = node["config"].encode()
    assert bash.type_line(b"pvestorage --config=" + cfg + b" list st\t") == ["pvestorage", "--config=" + node["config"],
                                                                           "list", "store"]
