#!/usr/bin/env python3
"""No stale examples: every svctl command shown in the docs parses with svctl's real
definitions, and docs/getting-started.md runs, block after block, against a real svcd.

  doc_commands.py syntax SVCTL PAGE...
      Each ```sh block of each page: its lines (continuations joined, comments dropped) are
      split at ; | && || into commands, and every command that starts with svctl is given to
      `svctl --check-syntax` (parses, runs nothing). A mistyped command or flag fails, naming
      the page and line.

  doc_commands.py run PAGE
      Prints the page's ```sh blocks as one shell script, each block announced, for a runner
      (tests/docs/getting_started_test.sh) that executes it against its own svcd.

Blocks fenced as ```console or ```text are output or prose and are not read.
"""
import re
import shlex
import subprocess
import sys


def sh_blocks(path):
    """(first line number, text) of each ```sh block."""
    blocks, current, start = [], None, 0
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            stripped = line.strip()
            if current is None:
                if re.fullmatch(r"```(sh|bash|shell)", stripped):
                    current, start = [], n + 1
            elif stripped.startswith("```"):
                blocks.append((start, "".join(current)))
                current = None
            else:
                current.append(line)
    if current is not None:
        raise SystemExit(f"{path}: a ```sh block from line {start} is never closed")
    return blocks


def logical_lines(start, text):
    """(line number, line) with backslash continuations joined."""
    out, buf, first = [], "", None
    for i, line in enumerate(text.splitlines(), start):
        if first is None:
            first = i
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        out.append((first, buf + line))
        buf, first = "", None
    if buf:
        out.append((first, buf))
    return out


def commands(line):
    """The simple commands of a shell line, as token lists."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|<>()")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    cmds, cur = [], []
    for tok in lexer:
        if tok and set(tok) <= set(";&|()"):
            if cur:
                cmds.append(cur)
            cur = []
        elif tok and set(tok) <= set("<>"):
            cur.append(None)  # a redirection: its target follows, not an argument
        else:
            cur.append(tok)
    if cur:
        cmds.append(cur)
    result = []
    for c in cmds:
        args, skip = [], False
        for t in c:
            if t is None:
                skip = True
                continue
            if skip:
                skip = False
                continue
            args.append(t)
        # Leading VAR=value assignments and sudo/exec wrappers are not the command.
        while args and (re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", args[0]) or
                        args[0] in ("sudo", "exec", "time")):
            args = args[1:]
        if args:
            result.append(args)
    return result


def syntax(svctl, pages):
    checked, failures = 0, []
    for page in pages:
        for start, text in sh_blocks(page):
            for n, line in logical_lines(start, text):
                try:
                    cmds = commands(line)
                except ValueError as e:
                    failures.append(f"{page}:{n}: cannot read the line as shell: {e}")
                    continue
                for args in cmds:
                    if args[0] not in ("svctl", "/usr/local/bin/svctl", "/usr/bin/svctl"):
                        continue
                    checked += 1
                    r = subprocess.run([svctl, "--check-syntax"] + args[1:],
                                       capture_output=True, text=True, timeout=30)
                    if r.returncode != 0:
                        failures.append(f"{page}:{n}: {shlex.join(args)}\n    "
                                        f"{(r.stderr or r.stdout).strip()}")
    for f in failures:
        print(f)
    print(f"{checked} svctl commands in {len(pages)} pages, {len(failures)} do not parse")
    return 1 if failures or checked == 0 else 0


def run(page):
    for start, text in sh_blocks(page):
        print(f"echo '--- {page}:{start}'")
        print(text)
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "syntax":
        sys.exit(syntax(sys.argv[2], sys.argv[3:]))
    if len(sys.argv) == 3 and sys.argv[1] == "run":
        sys.exit(run(sys.argv[2]))
    sys.exit(__doc__)
