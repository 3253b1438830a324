"""The Dockerfile grammar and word lexer, pure: directives, continuations, comments,
heredocs, flags, exec/shell forms, ARG before FROM, substitution, errors with lines."""
from __future__ import annotations

import re

import pytest

from dockyard.engine.build import shell
from dockyard.engine.build.config import apply, apply_changes
from dockyard.engine.build.parser import ParseError, parse
from dockyard.errors import InvalidParameter

pytestmark = pytest.mark.unit


def test_directives_comments_and_continuations() -> None:
    doc = parse("# syntax=docker/dockerfile:1\n#escape=`\n# check=error=true\n"
                "FROM busybox\n# a comment\nRUN echo a `\n  # dropped comment\n\n"
                "    b\nCMD [\"sh\"]\n")
    assert (doc.syntax, doc.escape, doc.check) == ("docker/dockerfile:1", "`", "error=true")
    run, cmd = doc.stages[0].instructions
    assert run.original == "RUN echo a     b" and run.line == 6
    assert cmd.exec_form == ["sh"] and cmd.line == 10
    assert doc.steps() == 3
    # a directive after a comment is a comment; backslash continues by default
    doc = parse("# hello\n# escape=`\nFROM x\nRUN a \\\n b\n")
    assert doc.escape == "\\" and doc.stages[0].instructions[0].args == "a  b"
    assert doc.warnings == []
    doc = parse("FROM x\nRUN a \\\n\n b\n")
    assert doc.warnings == ["[WARNING]: Empty continuation line found in:\n    RUN a  b",
                            "[WARNING]: Empty continuation lines will become errors in a "
                            "future release."]


def test_directive_errors() -> None:
    with pytest.raises(ParseError, match="line 2: only one escape parser directive"):
        parse("# escape=`\n# escape=\\\nFROM x\n")
    with pytest.raises(ParseError, match="invalid escape token 'x' does not match"):
        parse("# escape=x\nFROM x\n")


def test_unknown_instruction_and_stage_errors() -> None:
    with pytest.raises(ParseError) as info:
        parse("FROM busybox\n\nFOO bar\n")
    assert info.value.message == "dockerfile parse error on line 3: unknown instruction: FOO"
    assert info.value.status == 400
    with pytest.raises(ParseError, match="line 1: no build stage in current context"):
        parse("RUN true\nFROM x\n")
    with pytest.raises(ParseError, match="FROM requires either one or three arguments"):
        parse("FROM a b\n")
    with pytest.raises(ParseError, match="invalid name for build stage"):
        parse("FROM a AS 1x\n")
    with pytest.raises(ParseError, match="line 2: duplicate stage name 'b'"):
        parse("FROM a AS b\nFROM c AS b\n")
    with pytest.raises(ParseError, match="line 2: unknown flag: bogus"):
        parse("FROM a\nCOPY --bogus=1 a b\n")
    with pytest.raises(ParseError, match="COPY requires at least two arguments"):
        parse("FROM a\nCOPY a\n")
    with pytest.raises(ParseError, match="line 2: ENV must have two arguments"):
        parse("FROM a\nENV A\n")
    with pytest.raises(ParseError, match="SHELL requires the arguments to be in JSON form"):
        parse("FROM a\nSHELL bash -c\n")
    with pytest.raises(ParseError, match="ONBUILD isn't allowed as an ONBUILD trigger"):
        parse("FROM a\nONBUILD ONBUILD RUN x\n")
    with pytest.raises(InvalidParameter, match="cannot be empty"):
        parse("\n\n")
    with pytest.raises(InvalidParameter, match="file with no instructions"):
        parse("# only a comment\n")


def test_stages_meta_args_and_flags() -> None:
    doc = parse("ARG BASE=busybox\nARG V\nFROM --platform=linux/amd64 ${BASE} AS Build\n"
                "COPY --from=build --chown=1:2 --chmod=644 a b /dst/\nFROM build\n"
                "HEALTHCHECK --interval=5s --retries=3 CMD true\n")
    assert [a.args for a in doc.meta_args] == ["BASE=busybox", "V"]
    first, second = doc.stages
    assert (first.base, first.name, first.platform) == ("${BASE}", "build", "linux/amd64")
    copy = first.instructions[0]
    assert copy.flags == {"from": ["build"], "chown": ["1:2"], "chmod": ["644"]}
    assert copy.args == "a b /dst/"
    assert second.base == "build" and second.index == 1
    health = apply({}, second.instructions[0])
    assert health["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000,
                                     "Retries": 3}
    assert doc.steps() == 2 + 2 + 2
    for flags, message in (("--interval=1us", 'Interval "interval" cannot be less than 1ms'),
                           ("--retries=-1", "--retries cannot be negative (-1)"),
                           ("--timeout=5", 'time: invalid duration "5"')):
        bad = parse(f"FROM a\nHEALTHCHECK {flags} CMD true\n").stages[0].instructions[0]
        with pytest.raises(InvalidParameter, match=re.escape(message)):
            apply({}, bad)


def test_heredocs() -> None:
    doc = parse("FROM a\nRUN <<EOF\necho one\n  echo two\nEOF\n"
                "COPY <<-\"END\" /greeting\n\thello $NAME\nEND\nRUN cat <<A <<B\n1\nA\n2\nB\n"
                "CMD x\n")
    run, copy, two, cmd = doc.stages[0].instructions
    assert run.heredocs[0].content == "echo one\n  echo two\n" and run.heredocs[0].expand
    assert copy.heredocs[0].name == "END" and copy.heredocs[0].content == "hello $NAME\n"
    assert not copy.heredocs[0].expand
    assert [h.content for h in two.heredocs] == ["1\n", "2\n"]
    assert cmd.line == 14
    with pytest.raises(ParseError, match="line 2: unterminated heredoc EOF"):
        parse("FROM a\nRUN <<EOF\necho\n")


def test_substitution() -> None:
    env = {"A": "apple", "E": "", "P": "/usr/bin"}
    assert shell.words("$A ${A} x${A}y '$A' \"$A b\"", env) == [
        "apple", "apple", "xappley", "$A", "apple b"]
    assert shell.word("${E:-dflt} ${E-unset} ${N:-no} ${A:+yes} ${N:+x}|", env) == \
        "dflt  no yes |"
    assert shell.word("${N:-${A}-nested}", env) == "apple-nested"
    assert shell.word(r"\$A \\ a\ b", env) == "$A \\ a b"
    assert shell.word("`$A", env, escape="`") == "$A"
    assert shell.word(r'"q\"uote\$A"', env) == 'q"uote$A'
    assert shell.word("$ end$", env) == "$ end$"
    with pytest.raises(InvalidParameter, match="N: must be set"):
        shell.word("${N:?must be set}", env)
    with pytest.raises(InvalidParameter, match="matching double-quote"):
        shell.words('"open', env)


def test_exec_and_shell_forms_and_config_steps() -> None:
    doc = parse('FROM a\nSHELL ["/bin/bash", "-xc"]\nCMD echo $HOME\nENTRYPOINT ["run", "x"]\n'
                "ENV A=1 B=\"two words\"\nENV C $A and ${B}\nWORKDIR sub\nWORKDIR $A/..//x\n"
                "LABEL \"k y\"=v l=${A}\nEXPOSE 80 53/udp 7000-7001\nVOLUME [\"/v\"]\n"
                "USER ${A}:0\nSTOPSIGNAL SIGQUIT\nONBUILD RUN echo hi\n")
    config: dict = {"WorkingDir": "/srv"}
    for ins in doc.stages[0].instructions:
        config = apply(config, ins)
    assert config["Shell"] == ["/bin/bash", "-xc"]
    assert config["Cmd"] == ["/bin/bash", "-xc", "echo $HOME"]
    assert config["Entrypoint"] == ["run", "x"]
    assert config["Env"] == ["A=1", "B=two words", "C=1 and two words"]
    assert config["WorkingDir"] == "/srv/sub/x"
    assert config["Labels"] == {"k y": "v", "l": "1"}
    assert set(config["ExposedPorts"]) == {"80/tcp", "53/udp", "7000/tcp", "7001/tcp"}
    assert config["Volumes"] == {"/v": {}} and config["User"] == "1:0"
    assert config["StopSignal"] == "SIGQUIT" and config["OnBuild"] == ["RUN echo hi"]


def test_build_args_in_substitution_lose_to_env() -> None:
    doc = parse("FROM a\nENV X=env\nLABEL a=$X b=$Y\n")
    env_step, label = doc.stages[0].instructions
    config = apply({}, env_step, {"X": "arg", "Y": "argy"})
    assert apply(config, label, {"X": "arg", "Y": "argy"})["Labels"] == {"a": "env",
                                                                      "b": "argy"}


def test_changes_for_commit_and_import() -> None:
    config = apply_changes({}, ['CMD ["sh"]', "ENV A=1", "CMD -p 80", "EXPOSE 80"])
    assert config["Cmd"] == ["/bin/sh", "-c", "-p 80"] and config["Env"] == ["A=1"]
    with pytest.raises(InvalidParameter, match="run is not a valid change command"):
        apply_changes({}, ["RUN make"])
    with pytest.raises(InvalidParameter, match="^Invalid signal: SIGNOPE$"):
        apply_changes({}, ["STOPSIGNAL SIGNOPE"])
    with pytest.raises(InvalidParameter, match="^ENV must have two arguments$"):
        apply_changes({}, ["ENV A"])


def test_dockerignore_matching() -> None:
    from dockyard import dockerignore

    patterns = dockerignore.read("# comment\n\n/secret\n*.log\n!keep.log\n**/tmp\n"
                                 "docs/**/*.md\n!docs/README.md\nbuild?\n[ab].txt\n./x/../y\n")
    assert patterns == ["secret", "*.log", "!keep.log", "**/tmp", "docs/**/*.md",
                        "!docs/README.md", "build?", "[ab].txt", "y"]
    matcher = dockerignore.Matcher(patterns)
    excluded = {p for p in ("secret", "secret/inner", "a.log", "keep.log", "sub/a.log",
                            "tmp", "a/b/tmp", "a/b/tmp/f", "docs/x.md", "docs/a/b/c.md",
                            "docs/README.md", "build1", "build12", "a.txt", "c.txt", "y",
                            "y/z", "Dockerfile") if matcher.excluded(p)}
    assert excluded == {"secret", "secret/inner", "a.log", "tmp", "a/b/tmp", "a/b/tmp/f",
                        "docs/x.md", "docs/a/b/c.md", "build1", "a.txt", "y", "y/z"}
    # the last matching pattern wins; an exception can re-include below an excluded dir
    matcher = dockerignore.Matcher(["dir", "!dir/keep"])
    assert matcher.excluded("dir/other") and not matcher.excluded("dir/keep")
