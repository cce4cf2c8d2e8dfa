"""`make k8s`: render a kustomize overlay of `deploy/k8s/` to one YAML stream, offline and
without kubectl (`python -m deploy.kustomize [OVERLAY_DIR]`).

It reads the part of kustomize's `kustomization.yaml` that Podium's manifests use, and refuses
any other field by name rather than rendering something kustomize would not:
`resources` (files and directories with their own kustomization), `configMapGenerator` and
`secretGenerator` (`files`, `literals`, `behavior: create|replace`, name-suffix hashing off),
`namespace`, `images`, `replicas` and `patches` given as JSON 6902 operations with a
`target` of kind and name. `tests/unit/test_k8s.py` compares its output with `kubectl
kustomize` where kubectl is installed."""

from __future__ import annotations

import base64
import copy
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from deploy.settings import REPO_DIR

K8S_DIR = REPO_DIR / "deploy" / "k8s"
DEFAULT_OVERLAY = K8S_DIR / "overlays" / "production"
SUPPORTED = {
    "apiVersion",
    "kind",
    "resources",
    "configMapGenerator",
    "secretGenerator",
    "namespace",
    "images",
    "replicas",
    "patches",
}
GENERATOR_FIELDS = {"name", "behavior", "files", "literals", "options", "type"}
SCALABLE = {"Deployment", "ReplicaSet", "ReplicationController", "StatefulSet"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}
Doc = dict[str, Any]


class KustomizeError(ValueError):
    """A kustomization this renderer does not read (or that kustomize would refuse)."""


def render(directory: Path) -> list[Doc]:
    """The resources of the kustomization in `directory`, with its transformations applied."""
    kust: Doc = yaml.safe_load((directory / "kustomization.yaml").read_text()) or {}
    unknown = set(kust) - SUPPORTED
    if unknown:
        raise KustomizeError(f"{directory}: fields not supported here: {sorted(unknown)}")
    docs: list[Doc] = []
    for entry in kust.get("resources", ()):
        docs.extend(_load(directory / entry))
    for gen in kust.get("configMapGenerator", ()):
        docs = _generated(docs, _config_map(directory, gen), gen.get("behavior", "create"))
    for gen in kust.get("secretGenerator", ()):
        docs = _generated(docs, _secret(directory, gen), gen.get("behavior", "create"))
    for patch in kust.get("patches", ()):
        _patch(docs, directory, patch)
    if "namespace" in kust:
        for doc in docs:
            if doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = kust["namespace"]
    for image in kust.get("images", ()):
        for container in _containers(docs):
            _set_image(container, image)
    for count in kust.get("replicas", ()):
        for doc in _named(docs, None, count["name"]):
            if doc["kind"] in SCALABLE:
                doc["spec"]["replicas"] = count["count"]
    return docs


def _load(path: Path) -> list[Doc]:
    if path.is_dir():
        return render(path)
    # a copy of each, so that a patch never reaches a YAML alias's other uses
    # through JSON: each use of a YAML alias becomes its own copy (deepcopy would keep them one)
    return [json.loads(json.dumps(doc)) for doc in yaml.safe_load_all(path.read_text()) if doc]


def _named(docs: list[Doc], kind: str | None, name: str) -> Iterator[Doc]:
    for doc in docs:
        if doc["metadata"]["name"] == name and kind in (None, doc["kind"]):
            yield doc


def _generated(docs: list[Doc], made: Doc, behavior: str) -> list[Doc]:
    """Add a generated ConfigMap or Secret, or replace the one of the same name (`replace`)."""
    same = list(_named(docs, made["kind"], made["metadata"]["name"]))
    if behavior == "create" and same:
        raise KustomizeError(f"{made['kind']} {made['metadata']['name']} already exists")
    if behavior == "replace" and not same:
        raise KustomizeError(f"{made['kind']} {made['metadata']['name']}: nothing to replace")
    if behavior not in ("create", "replace"):
        raise KustomizeError(f"generator behavior {behavior!r} is not supported here")
    return [doc for doc in docs if doc not in same] + [made]


def _entries(directory: Path, gen: Doc) -> dict[str, str]:
    unknown = set(gen) - GENERATOR_FIELDS
    if unknown:
        raise KustomizeError(f"generator {gen['name']}: fields not supported here: {unknown}")
    if not gen.get("options", {}).get("disableNameSuffixHash"):
        raise KustomizeError(f"{gen['name']}: set options.disableNameSuffixHash (no hashing)")
    entries: dict[str, str] = {}
    for item in gen.get("files", ()):
        key, _, name = item.rpartition("=")
        path = (directory / name).resolve()
        if not path.is_relative_to(directory.resolve()):
            raise KustomizeError(f"{name}: not in or below {directory} (kustomize refuses it)")
        entries[key or Path(name).name] = path.read_text()
    for item in gen.get("literals", ()):
        key, _, value = item.partition("=")
        entries[key] = value
    return entries


def _config_map(directory: Path, gen: Doc) -> Doc:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": gen["name"]},
        "data": _entries(directory, gen),
    }


def _secret(directory: Path, gen: Doc) -> Doc:
    data = {k: base64.b64encode(v.encode()).decode() for k, v in _entries(directory, gen).items()}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": gen["name"]},
        "type": gen.get("type", "Opaque"),
        "data": data,
    }


def _patch(docs: list[Doc], directory: Path, patch: Doc) -> None:
    target = patch.get("target", {})
    if set(target) - {"kind", "name"} or "name" not in target:
        raise KustomizeError(f"patch target {target}: give kind and name (nothing else)")
    ops = yaml.safe_load((directory / patch["path"]).read_text())
    if not isinstance(ops, list):
        raise KustomizeError(f"{patch['path']}: only JSON 6902 patches (a list of operations)")
    matched = list(_named(docs, target.get("kind"), target["name"]))
    if not matched:
        raise KustomizeError(f"patch target {target} matches no resource")
    for doc in matched:
        for op in ops:
            apply_operation(doc, op)


def apply_operation(doc: Doc, op: Doc) -> None:
    """One JSON 6902 (RFC 6902) `add`, `replace` or `remove` on `doc`, in place."""
    *parents, last = [p.replace("~1", "/").replace("~0", "~") for p in op["path"][1:].split("/")]
    node: Any = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if op["op"] == "add" and isinstance(node, list):
        node.insert(len(node) if last == "-" else int(last), copy.deepcopy(op["value"]))
    elif op["op"] in ("add", "replace"):
        key: Any = int(last) if isinstance(node, list) else last
        if op["op"] == "replace" and (key not in node if isinstance(node, dict) else False):
            raise KustomizeError(f"replace {op['path']}: nothing there")
        node[key] = copy.deepcopy(op["value"])
    elif op["op"] == "remove":
        del node[int(last) if isinstance(node, list) else last]
    else:
        raise KustomizeError(f"patch operation {op['op']!r} is not supported here")


def _containers(docs: list[Doc]) -> Iterator[Doc]:
    for doc in docs:
        spec = doc.get("spec", {})
        if doc["kind"] == "CronJob":
            spec = spec["jobTemplate"]["spec"]
        pod = spec.get("template", {}).get("spec", {})
        yield from pod.get("initContainers", ())
        yield from pod.get("containers", ())


def image_name(ref: str) -> str:
    """An image reference without its tag and digest: `reg:5000/podium:1@sha256:…` ->
    `reg:5000/podium` (what an `images` entry's `name` matches)."""
    head, _, last = ref.split("@")[0].rpartition("/")
    last = last.split(":")[0]
    return f"{head}/{last}" if head else last


def _set_image(container: Doc, image: Doc) -> None:
    if image_name(container["image"]) != image["name"]:
        return
    new = image.get("newName", image["name"])
    if "digest" in image:
        container["image"] = f"{new}@{image['digest']}"
    elif "newTag" in image:
        container["image"] = f"{new}:{image['newTag']}"
    else:  # a new name keeps the tag or digest it had
        container["image"] = new + container["image"][len(image["name"]) :]


def dump(docs: list[Doc]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    directory = Path(args[0]) if args else DEFAULT_OVERLAY
    print(dump(render(directory)), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
