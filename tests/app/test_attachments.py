"""Uploads are checked before anything is stored: every bad file gets its own message, in the
user's words (checked word for word)."""
from app.attachments import Limits, check_files
from app.blobs import BlobStore

from app_testfiles import make_bad_files, png_bytes

LIMITS = Limits(max_image_mb=0.05, max_image_megapixels=1)


def test_each_bad_file_is_refused_with_its_message(tmp_path):
    blobs = BlobStore(tmp_path / "blobs")
    for key, (path, words) in make_bad_files(tmp_path / "bad").items():
        checked = check_files([path], blobs, LIMITS)
        if key == "pdf":  # PDFs go on to the document index, which reads (and refuses) them
            assert checked.documents == [path] and not checked.problems
            continue
        assert checked.blobs == [] and checked.refused == [str(path)], key
        assert checked.problems == [words], key  # word for word
    assert not any(p.is_file() for p in (tmp_path / "blobs").rglob("*"))  # nothing stored


def test_good_images_are_stored_and_bad_ones_named(tmp_path):
    good = tmp_path / "ok.png"
    good.write_bytes(png_bytes())
    bad = make_bad_files(tmp_path / "bad")["text"][0]
    checked = check_files([good, bad, tmp_path / "gone.png"], BlobStore(tmp_path / "blobs"), LIMITS)
    assert len(checked.blobs) == 1 and checked.blobs[0].endswith(".png")
    assert checked.refused == [str(bad), str(tmp_path / "gone.png")]
    assert "gone.png could not be read" in checked.problems[1]
