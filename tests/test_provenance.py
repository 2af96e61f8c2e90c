"""Where the data came from: every source kind is named as read (bundled, a folder, a manual download, the hub)."""
import shutil

from inherent_limits.base_vs_instruct.items import bench_source
from inherent_limits.data.loading import BUNDLED_RAW, data_source


def test_data_source_names_bundled_folder_manual_and_hub(tmp_path, monkeypatch):
    assert data_source("cola", "test", "bundled") == "bundled"
    (tmp_path / "cola").mkdir()
    shutil.copy(BUNDLED_RAW / "cola" / "validation.jsonl", tmp_path / "cola" / "validation.jsonl")
    assert data_source("cola", "test", str(tmp_path)) == f"folder:{tmp_path / 'cola' / 'validation.jsonl'}"
    assert data_source("cola", "test") == "hub:glue config cola split validation"
    monkeypatch.setenv("INHERENT_LIMITS_DATA_DIR", "bundled")        # the environment counts as given
    assert data_source("cola", "test") == "bundled"
    assert data_source("story_cloze", "test", manual_dir="bundled") == "bundled"
    assert data_source("story_cloze", "test", manual_dir=str(tmp_path)) == f"manual:{tmp_path}"


def test_benchmark_source_names_bundled_folder_and_hub(tmp_path):
    assert bench_source("gsm8k", data_dir="bundled") == "bundled"
    assert bench_source("gsm8k") == "hub:openai/gsm8k config main"
    (tmp_path / "gsm8k").mkdir()
    (tmp_path / "gsm8k" / "test.jsonl").write_text('{"question": "q", "answer": "a #### 1"}\n')
    assert bench_source("gsm8k", data_dir=str(tmp_path)) == f"folder:{tmp_path / 'gsm8k' / 'test.jsonl'}"
