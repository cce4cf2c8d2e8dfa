"""`deploy/k8s/`, rendered as `make k8s` renders it (deploy/kustomize.py), validates offline:
Kubernetes' own kinds against the schemas `kubernetes-validate` ships (strict: no unknown
field), the custom resources (KafkaTopic, ScaledObject, PodMonitor, PrometheusRule) against
the hand-written structures of tests/unit/crd_schemas.py. Then what issue 21 asks of them,
each read from the rendered resources: topics mirroring the catalogue, the worker scaled on its
group's lag up to the partition count, probes on the metrics ports, non-root pods."""

from __future__ import annotations

import functools
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from deploy.cli import build_parser
from deploy.kustomize import K8S_DIR, render
from deploy.settings import Settings
from deploy.stack import Stack
from schemas.topics import CATALOGUE, EVENTS, Names
from tests.unit import crd_schemas

KUBERNETES = "1.33.0"
OVERLAYS = ("production", "small")
METRICS_PORTS = {"gateway": 9100, "worker": 9101, "ranker": 9102, "projector": 9103}
"""The metrics ports issue 21 fixes (PODIUM_GATEWAY_METRICS_PORT 9100, worker 9101, ...)."""
Doc = dict[str, Any]


@functools.cache
def rendered(overlay: str) -> tuple[Doc, ...]:
    return tuple(render(K8S_DIR / "overlays" / overlay))


def of_kind(overlay: str, kind: str) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in rendered(overlay) if d["kind"] == kind}


def pod_spec(doc: Doc) -> Doc:
    spec = doc["spec"]["jobTemplate"]["spec"] if doc["kind"] == "CronJob" else doc["spec"]
    pod: Doc = spec["template"]["spec"]
    return pod


def env_of(container: Doc) -> dict[str, Doc]:
    return {e["name"]: e for e in container.get("env", ())}


def config_env(overlay: str) -> dict[str, str]:
    data: dict[str, str] = of_kind(overlay, "ConfigMap")["podium-env"]["data"]
    return data


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_resource_validates(overlay: str) -> None:
    kinds = set()
    for doc in rendered(overlay):
        kinds.add(doc["kind"])
        crd = crd_schemas.BY_KIND.get((doc["apiVersion"], doc["kind"]))
        if crd is not None:
            jsonschema.validate(doc, crd)
        else:
            kubernetes_validate.validate(doc, KUBERNETES, strict=True)
    assert kinds >= {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"}
    assert kinds >= {"CronJob", "ConfigMap", "Secret", "KafkaTopic", "ScaledObject", "PodMonitor"}


def test_the_validation_refuses_a_misspelt_field() -> None:
    deployment = dict(of_kind("production", "Deployment")["podium-worker"])
    deployment["spec"] = deployment["spec"] | {"replica": 3}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES, strict=True)
    scaled = dict(of_kind("production", "ScaledObject")["podium-worker"])
    scaled["spec"] = scaled["spec"] | {"maxReplicas": 3}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(scaled, crd_schemas.SCALED_OBJECT)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_topics_mirror_the_catalogue(overlay: str) -> None:
    topics = of_kind(overlay, "KafkaTopic")
    assert sorted(t["spec"]["topicName"] for t in topics.values()) == sorted(
        t.name for t in CATALOGUE
    )
    for topic in CATALOGUE:
        spec = topics[topic.name]["spec"]
        assert (spec["partitions"], spec["replicas"]) == (topic.partitions, 3)
        assert spec["config"] == {**topic.config, "min.insync.replicas": "2"}
        assert topics[topic.name]["metadata"]["labels"]["strimzi.io/cluster"] == "podium-kafka"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_worker_scales_on_its_group_s_lag_up_to_the_partition_count(overlay: str) -> None:
    scaled = of_kind(overlay, "ScaledObject")["podium-worker"]["spec"]
    assert scaled["scaleTargetRef"]["name"] in of_kind(overlay, "Deployment")
    assert scaled["scaleTargetRef"]["name"] == "podium-worker"
    assert 1 <= scaled["minReplicaCount"] <= scaled["maxReplicaCount"] <= EVENTS.partitions
    [trigger] = scaled["triggers"]
    assert trigger["type"] == "kafka"
    assert (trigger["metadata"]["consumerGroup"], trigger["metadata"]["topic"]) == (
        Names().worker_group,
        Names().events,
    )
    assert trigger["metadata"]["bootstrapServers"] == config_env(overlay)["PODIUM_KAFKA_BOOTSTRAP"]


def test_the_production_worker_may_grow_to_one_per_partition() -> None:
    scaled = of_kind("production", "ScaledObject")["podium-worker"]["spec"]
    assert scaled["maxReplicaCount"] == EVENTS.partitions == 12


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("process", sorted(METRICS_PORTS))
def test_each_process_has_probes_resources_and_a_disruption_budget(
    overlay: str, process: str
) -> None:
    deployment = of_kind(overlay, "Deployment")[f"podium-{process}"]
    [container] = pod_spec(deployment)["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["metrics"] == METRICS_PORTS[process]
    assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert "memory" in container["resources"]["limits"]
    budgets = [
        b
        for b in of_kind(overlay, "PodDisruptionBudget").values()
        if b["spec"]["selector"]["matchLabels"].items()
        <= deployment["spec"]["template"]["metadata"]["labels"].items()
    ]
    assert len(budgets) == 1


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_gateway_has_a_service_and_an_autoscaler(overlay: str) -> None:
    service = of_kind(overlay, "Service")["podium-gateway"]["spec"]
    pod_labels = of_kind(overlay, "Deployment")["podium-gateway"]["spec"]["template"]["metadata"]
    assert service["selector"].items() <= pod_labels["labels"].items()
    assert service["ports"][0]["targetPort"] == "http"
    hpa = of_kind(overlay, "HorizontalPodAutoscaler")["podium-gateway"]["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "podium-gateway",
    }
    assert 1 <= hpa["minReplicas"] < hpa["maxReplicas"]


def pods(overlay: str) -> dict[str, Doc]:
    kinds = ("Deployment", "CronJob")
    return {n: pod_spec(d) for k in kinds for n, d in of_kind(overlay, k).items()}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_runs_as_non_root_on_a_read_only_root_filesystem(overlay: str) -> None:
    for name, pod in pods(overlay).items():
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] != 0, name
        assert pod["automountServiceAccountToken"] is False, name
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            volumes = {v["name"]: v for v in pod["volumes"]}
            assert "emptyDir" in volumes[mounts["/tmp"]], name  # the one writable place


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_grace_period_outlasts_the_transaction_timeout(overlay: str) -> None:
    timeout_ms = int(config_env(overlay)["PODIUM_TRANSACTION_TIMEOUT_MS"])
    for name, deployment in of_kind(overlay, "Deployment").items():
        grace_s = pod_spec(deployment)["terminationGracePeriodSeconds"]
        assert grace_s * 1000 > timeout_ms, name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_worker_s_id_is_its_pod_s_name(overlay: str) -> None:
    [container] = pod_spec(of_kind(overlay, "Deployment")["podium-worker"])["containers"]
    assert env_of(container)["PODIUM_WORKER_ID"]["valueFrom"] == {
        "fieldRef": {"fieldPath": "metadata.name"}
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_rules_and_the_api_keys_come_from_a_config_map_and_a_secret(overlay: str) -> None:
    rules_path = config_env(overlay)["PODIUM_RULES_PATH"]
    assert "rules.toml" in of_kind(overlay, "ConfigMap")["podium-rules"]["data"]
    for name, pod in pods(overlay).items():
        volumes = {v["name"]: v for v in pod["volumes"]}
        [container] = pod["containers"]
        mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
        directory, _, file = rules_path.rpartition("/")
        assert mounts[directory]["configMap"]["name"] == "podium-rules", name
        assert file == "rules.toml"
    [gateway] = pods(overlay)["podium-gateway"]["containers"]
    key = env_of(gateway)["PODIUM_API_KEY_HASHES"]["valueFrom"]["secretKeyRef"]
    secret = of_kind(overlay, "Secret")[key["name"]]
    assert key["key"] in {**secret.get("data", {}), **secret.get("stringData", {})}


def podium_env_names(overlay: str) -> set[str]:
    names = set(config_env(overlay))
    for pod in pods(overlay).values():
        for container in pod["containers"]:
            names |= set(env_of(container))
    return names


COMING = {"PODIUM_METRICS_HOST", "PODIUM_WORKER_ID"}
"""Settings issue 21 names that other branches add (the metrics and the runtime engineers')."""


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_setting_named_is_one_podium_reads(overlay: str) -> None:
    known = {f"PODIUM_{name.upper()}" for name in Settings.model_fields} | COMING
    assert podium_env_names(overlay) - known == set()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_containers_run_the_processes_of_make_run_and_the_tick(overlay: str) -> None:
    commands = {tuple(c["args"][:1]) for p in pods(overlay).values() for c in p["containers"]}
    local = {tuple(app.command) for app in Stack.local(Settings()).apps}
    assert commands == local | {("tick",)}
    for pod in pods(overlay).values():
        for container in pod["containers"]:
            assert "command" not in container  # the image's entrypoint, `podium`, takes the args
            build_parser().parse_args(container["args"])  # a real subcommand and its options


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_pod_monitor_scrapes_every_process_s_metrics_port(overlay: str) -> None:
    monitor = of_kind(overlay, "PodMonitor")["podium"]["spec"]
    selector = monitor["selector"]["matchLabels"].items()
    [endpoint] = monitor["podMetricsEndpoints"]
    for name in (f"podium-{p}" for p in METRICS_PORTS):
        labels = of_kind(overlay, "Deployment")[name]["spec"]["template"]["metadata"]["labels"]
        assert selector <= labels.items(), name
        [container] = pods(overlay)[name]["containers"]
        assert endpoint["port"] in {p["name"] for p in container["ports"]}, name
    assert endpoint["path"] == "/metrics"
