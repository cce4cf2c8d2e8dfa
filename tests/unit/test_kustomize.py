"""deploy/kustomize.py, the offline renderer behind `make k8s`: its output equals `kubectl
kustomize` on both overlays (where kubectl is installed), its pieces do what kustomize's do,
it refuses what it does not read, and the generated files of deploy/k8s/base are fresh."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy import k8s_files
from deploy.kustomize import K8S_DIR, KustomizeError, apply_operation, image_name, render

OVERLAYS = ("production", "small")


def keyed(docs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_rendering_equals_kubectl_kustomize(overlay: str) -> None:
    directory = K8S_DIR / "overlays" / overlay
    out = subprocess.run(
        ["kubectl", "kustomize", str(directory)], capture_output=True, text=True, check=True
    ).stdout
    theirs = keyed([d for d in yaml.safe_load_all(out) if d])
    ours = keyed(render(directory))
    assert sorted(ours) == sorted(theirs)
    for key, doc in ours.items():
        assert doc == theirs[key], key


def test_the_generated_files_are_fresh() -> None:
    stale = [p.name for p, text in k8s_files.generated().items() if p.read_text() != text]
    assert stale == [], "run `python -m deploy.k8s_files`"


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        ({"op": "replace", "path": "/spec/n", "value": 3}, {"spec": {"n": 3, "xs": [1, 2]}}),
        ({"op": "add", "path": "/spec/m", "value": 1}, {"spec": {"n": 1, "m": 1, "xs": [1, 2]}}),
        ({"op": "add", "path": "/spec/xs/-", "value": 9}, {"spec": {"n": 1, "xs": [1, 2, 9]}}),
        ({"op": "add", "path": "/spec/xs/0", "value": 9}, {"spec": {"n": 1, "xs": [9, 1, 2]}}),
        ({"op": "remove", "path": "/spec/xs/1"}, {"spec": {"n": 1, "xs": [1]}}),
        ({"op": "remove", "path": "/spec/n"}, {"spec": {"xs": [1, 2]}}),
        ({"op": "replace", "path": "/spec/xs/1", "value": 5}, {"spec": {"n": 1, "xs": [1, 5]}}),
    ],
)
def test_a_json_6902_operation(op: dict[str, Any], expected: dict[str, Any]) -> None:
    doc = {"spec": {"n": 1, "xs": [1, 2]}}
    apply_operation(doc, op)
    assert doc == expected


def test_replace_needs_something_to_replace() -> None:
    with pytest.raises(KustomizeError):
        apply_operation({"spec": {}}, {"op": "replace", "path": "/spec/n", "value": 1})


@pytest.mark.parametrize(
    ("ref", "name"),
    [
        ("podium", "podium"),
        ("podium:0.1.0", "podium"),
        ("registry:5000/team/podium:1@sha256:ab", "registry:5000/team/podium"),
        ("registry:5000/podium", "registry:5000/podium"),
    ],
)
def test_an_image_s_name_leaves_out_its_tag_and_digest(ref: str, name: str) -> None:
    assert image_name(ref) == name


def write(directory: Path, kustomization: dict[str, Any], **files: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


def test_a_field_it_does_not_read_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KustomizeError, match="commonLabels"):
        render(write(tmp_path, {"commonLabels": {"a": "b"}}))


def test_a_generator_field_it_does_not_read_is_refused(tmp_path: Path) -> None:
    (tmp_path / "keys.env").write_text("PODIUM_API_KEY_HASHES=ab")
    gen = {"name": "k", "envs": ["keys.env"], "options": {"disableNameSuffixHash": True}}
    with pytest.raises(KustomizeError, match="envs"):
        render(write(tmp_path, {"secretGenerator": [gen]}))


def test_a_generated_file_outside_the_kustomization_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("x")
    gen = {"name": "c", "files": ["../secret.txt"], "options": {"disableNameSuffixHash": True}}
    with pytest.raises(KustomizeError, match="not in or below"):
        render(write(tmp_path / "k", {"configMapGenerator": [gen]}))


def test_a_strategic_merge_patch_is_refused(tmp_path: Path) -> None:
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}
    directory = write(
        tmp_path,
        {"resources": ["d.yaml"], "patches": [{"path": "p.yaml", "target": {"name": "d"}}]},
        **{"d.yaml": yaml.safe_dump(deployment), "p.yaml": yaml.safe_dump({"spec": {}})},
    )
    with pytest.raises(KustomizeError, match="JSON 6902"):
        render(directory)


def test_a_replacing_generator_replaces_the_base_s_secret(tmp_path: Path) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "keys"}}
    write(tmp_path / "base", {"resources": ["s.yaml"]}, **{"s.yaml": yaml.safe_dump(secret)})
    gen = {
        "name": "keys",
        "behavior": "replace",
        "literals": ["PODIUM_API_KEY_HASHES=ab,cd"],
        "options": {"disableNameSuffixHash": True},
    }
    docs = render(write(tmp_path / "o", {"resources": ["../base"], "secretGenerator": [gen]}))
    assert docs == [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "keys"},
            "type": "Opaque",
            "data": {"PODIUM_API_KEY_HASHES": "YWIsY2Q="},  # base64 of "ab,cd"
        }
    ]


@pytest.mark.parametrize(
    ("entry", "image"),
    [
        ({"name": "podium", "newTag": "2.0.0"}, "podium:2.0.0"),
        ({"name": "podium", "newName": "reg/podium"}, "reg/podium:0.1.0"),
        ({"name": "podium", "newName": "reg/p", "newTag": "2"}, "reg/p:2"),
        ({"name": "podium", "digest": "sha256:ab"}, "podium@sha256:ab"),
        ({"name": "other", "newTag": "2"}, "podium:0.1.0"),
    ],
)
def test_an_images_entry_renames_retags_or_pins(
    tmp_path: Path, entry: dict[str, str], image: str
) -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j"},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "podium:0.1.0"}]}}},
    }
    directory = write(
        tmp_path, {"resources": ["j.yaml"], "images": [entry]}, **{"j.yaml": yaml.safe_dump(job)}
    )
    [rendered] = render(directory)
    assert rendered["spec"]["template"]["spec"]["containers"][0]["image"] == image
