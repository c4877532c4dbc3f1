"""ingest/uploads.py: whatever name the browser sends, the file lands inside the upload folder, within the limit."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingest.uploads import MAX_NAME, safe_filename, save_upload
from policyqa.errors import PolicyQAError

MB = 1_048_576

HOSTILE_NAMES = [
    "../../etc/passwd.md",
    "../../../../../../tmp/escape.md",
    "/etc/cron.d/evil.md",
    "/absolute.md",
    "..\\..\\windows\\system32\\evil.md",
    "C:\\Users\\me\\report.pdf",
    "sub/dir/../../note.md",
    "\u2025/\u2025/fullwidth.md",  # two-dot leader
    "\uff0e\uff0e\uff0f\uff0e\uff0e\uff0fwide.md",  # fullwidth "../../" that NFKC turns into real dots and slashes
    "evil\x00.md",
    "line\nbreak\r\tname.md",
    "\x1b[31mred\x1b[0m.md",
    ".hidden.md",
    "..md",
    " .. .md",
    "x" * 500 + ".md",
    "-rf.md",
]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd.md", "passwd.md"),
        ("/etc/cron.d/evil.md", "evil.md"),
        ("..\\..\\windows\\evil.md", "evil.md"),
        ("C:\\Users\\me\\report.pdf", "report.pdf"),
        ("evil\x00.md", "evil.md"),
        ("\uff0e\uff0e\uff0f\uff0e\uff0e\uff0fwide.md", "wide.md"),
        ("Annual Report 2025.pdf", "Annual Report 2025.pdf"),
        ("report.PDF", "report.PDF"),
    ],
)
def test_safe_filename_keeps_only_the_last_path_component(name: str, expected: str) -> None:
    assert safe_filename(name) == expected, f"safe_filename({name!r})"


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_safe_filename_is_a_plain_bounded_name(name: str) -> None:
    clean = safe_filename(name)

    assert clean, f"empty result for {name!r}"
    assert "/" not in clean and "\\" not in clean, f"a separator survived in {clean!r}"
    assert not any(ord(ch) < 32 or ord(ch) == 127 for ch in clean), f"a control character survived in {clean!r}"
    assert not clean.startswith("."), f"a dot-file name: {clean!r}"
    assert clean not in (".", ".."), f"a directory reference: {clean!r}"
    assert len(clean) <= MAX_NAME, f"{len(clean)} characters: {clean!r}"


def test_null_byte_cannot_hide_the_real_suffix(tmp_path: Path) -> None:
    assert safe_filename("report.md\x00.exe").endswith(".exe"), "the suffix after the NUL is the real one"
    with pytest.raises(PolicyQAError, match="unsupported file type"):
        save_upload("report.md\x00.exe", b"MZ", tmp_path / "uploads", max_mb=1)


def test_control_characters_are_replaced_not_kept() -> None:
    assert safe_filename("a\nb\r\tc.md") == "a_b_c.md"


def test_very_long_name_is_bounded_and_keeps_its_suffix() -> None:
    clean = safe_filename("policy-" + "x" * 1000 + ".markdown")

    assert len(clean) <= MAX_NAME, f"{len(clean)} characters"
    assert clean.endswith(".markdown"), f"suffix lost: {clean[-20:]!r}"
    assert clean.startswith("policy-x"), f"stem lost: {clean[:20]!r}"


def test_very_long_suffix_is_cut_and_the_name_still_bounded() -> None:
    clean = safe_filename("a." + "b" * 1000)

    assert len(clean) <= MAX_NAME, f"{len(clean)} characters"


@pytest.mark.parametrize("name", [".bashrc", ".env", "..", "...", ". .", "./", ".md"])
def test_dot_files_and_dot_names_never_stay_hidden(name: str) -> None:
    clean = safe_filename(name)

    assert clean and not clean.startswith("."), f"safe_filename({name!r}) = {clean!r}"


@pytest.mark.parametrize("name", ["", "   ", "\x00", "/", "\\", "../", "\x00\x00/.."])
def test_empty_or_separator_only_names_get_a_placeholder(name: str) -> None:
    assert safe_filename(name) == "upload", f"safe_filename({name!r})"


@pytest.mark.parametrize("name", [n for n in HOSTILE_NAMES if Path(safe_filename(n)).suffix in (".md", ".pdf")])
def test_saved_upload_is_always_inside_the_upload_folder(name: str, tmp_path: Path) -> None:
    upload_dir = tmp_path / "store" / "uploads"

    saved = save_upload(name, b"# Note\n\nText.\n", upload_dir, max_mb=1)

    assert saved.parent == upload_dir.resolve(), f"{name!r} was saved at {saved}"
    assert saved.read_bytes() == b"# Note\n\nText.\n"
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and upload_dir.resolve() not in p.resolve().parents]
    assert outside == [], f"files written outside the upload folder: {outside}"


def test_save_upload_creates_the_upload_folder(tmp_path: Path) -> None:
    upload_dir = tmp_path / "a" / "b" / "uploads"

    saved = save_upload("note.md", b"hello", upload_dir, max_mb=1)

    assert saved == (upload_dir / "note.md").resolve()


def test_save_upload_does_not_follow_a_symlink_planted_in_the_upload_folder(tmp_path: Path) -> None:
    upload_dir = tmp_path / "uploads"
    upload_dir.mkdir()
    victim = tmp_path / "victim.md"
    victim.write_text("keep me", encoding="utf-8")
    os.symlink(victim, upload_dir / "note.md")

    with pytest.raises(PolicyQAError, match="not a usable file name"):
        save_upload("note.md", b"overwritten", upload_dir, max_mb=1)

    assert victim.read_text(encoding="utf-8") == "keep me", "the upload wrote through the symlink"


def test_upload_over_the_limit_is_refused_with_a_message_naming_the_limit(tmp_path: Path) -> None:
    upload_dir = tmp_path / "uploads"

    with pytest.raises(PolicyQAError) as raised:
        save_upload("big.pdf", b"x" * (2 * MB + 1), upload_dir, max_mb=2)

    message = str(raised.value)
    assert "big.pdf" in message, f"the message should name the file: {message!r}"
    assert "limit of 2 MB" in message, f"the message should name the limit: {message!r}"
    assert "POLICYQA_MAX_UPLOAD_MB" in message, f"the message should name the setting: {message!r}"
    assert "\n" not in message, f"one line: {message!r}"
    assert not upload_dir.exists() or not any(upload_dir.iterdir()), "nothing should be written"


def test_upload_exactly_at_the_limit_is_accepted(tmp_path: Path) -> None:
    saved = save_upload("edge.txt", b"x" * (2 * MB), tmp_path / "uploads", max_mb=2)

    assert saved.stat().st_size == 2 * MB


def test_fractional_limit_is_shown_as_given(tmp_path: Path) -> None:
    with pytest.raises(PolicyQAError, match=r"limit of 0\.5 MB"):
        save_upload("half.md", b"x" * (MB // 2 + 1), tmp_path / "uploads", max_mb=0.5)


@pytest.mark.parametrize("name", ["tool.exe", "archive.zip", "slides.pptx", "README", "image.png", "page.html.exe"])
def test_unsupported_suffix_is_refused_naming_the_file(name: str, tmp_path: Path) -> None:
    upload_dir = tmp_path / "uploads"

    with pytest.raises(PolicyQAError, match="unsupported file type") as raised:
        save_upload(name, b"data", upload_dir, max_mb=1)

    assert safe_filename(name) in str(raised.value), f"message: {raised.value}"
    assert not upload_dir.exists() or not any(upload_dir.iterdir()), "nothing should be written"


@pytest.mark.parametrize("name", ["a.pdf", "b.PDF", "c.html", "d.htm", "e.md", "f.markdown", "g.txt"])
def test_every_supported_suffix_is_accepted(name: str, tmp_path: Path) -> None:
    saved = save_upload(name, b"content", tmp_path / "uploads", max_mb=1)

    assert saved.name == name


def test_a_second_upload_with_the_same_name_and_other_content_gets_its_own_file(tmp_path: Path) -> None:
    upload_dir = tmp_path / "uploads"

    first = save_upload("note.md", b"# One\n\nfirst", upload_dir, max_mb=1)
    second = save_upload("note.md", b"# Two\n\nsecond", upload_dir, max_mb=1)
    third = save_upload("note.md", b"# Three\n\nthird", upload_dir, max_mb=1)

    assert [p.name for p in (first, second, third)] == ["note.md", "note-2.md", "note-3.md"]
    assert first.read_bytes() == b"# One\n\nfirst", "the first upload was overwritten"
    assert second.read_bytes() == b"# Two\n\nsecond"


def test_the_same_file_uploaded_again_keeps_its_one_copy(tmp_path: Path) -> None:
    upload_dir = tmp_path / "uploads"

    first = save_upload("note.md", b"same", upload_dir, max_mb=1)
    again = save_upload("note.md", b"same", upload_dir, max_mb=1)

    assert again == first and sorted(p.name for p in upload_dir.iterdir()) == ["note.md"]


def test_remove_upload_deletes_files_in_the_upload_folder_only(tmp_path: Path) -> None:
    from ingest.uploads import remove_upload

    upload_dir = tmp_path / "uploads"
    saved = save_upload("note.md", b"hello", upload_dir, max_mb=1)
    (upload_dir / "note.md.meta.yaml").write_text("title: Note\n", encoding="utf-8")
    elsewhere = tmp_path / "corpus" / "note.md"
    elsewhere.parent.mkdir()
    elsewhere.write_text("keep", encoding="utf-8")

    assert remove_upload(saved, upload_dir) is True
    assert remove_upload(elsewhere, upload_dir) is False

    assert list(upload_dir.iterdir()) == [], "the upload and its sidecar should be gone"
    assert elsewhere.read_text(encoding="utf-8") == "keep", "a file outside the upload folder was touched"
