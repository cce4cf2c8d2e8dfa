"""JSON Schemas, written by hand, for the custom resources in `deploy/k8s/` that
`kubernetes-validate` has no schema for (it ships only Kubernetes' own kinds). They hold the
parts of each CRD's published structure that Podium's manifests use: required fields, types,
and no field outside the CRD's (a misspelt `maxReplicaCount` fails). Sources: Strimzi's
KafkaTopic v1beta2, KEDA's ScaledObject v1alpha1 (v2.x; trigger metadata is a map of
strings), and the Prometheus Operator's PodMonitor and PrometheusRule v1."""

from __future__ import annotations

from typing import Any

STRING_MAP: dict[str, Any] = {"type": "object", "additionalProperties": {"type": "string"}}
LABELS: dict[str, Any] = {"type": "object", "additionalProperties": {"type": "string"}}
METADATA: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"},
        "namespace": {"type": "string"},
        "labels": LABELS,
        "annotations": LABELS,
    },
    "additionalProperties": False,
}
DURATION = {"type": "string", "pattern": "^(0|([0-9]+(ms|s|m|h|d|w|y))+)$"}


def resource(api_version: str, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": api_version},
            "kind": {"const": kind},
            "metadata": METADATA,
            "spec": spec,
        },
        "additionalProperties": False,
    }


def closed(required: list[str], **properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": False,
    }


KAFKA_TOPIC = resource(
    "kafka.strimzi.io/v1beta2",
    "KafkaTopic",
    closed(
        [],
        topicName={"type": "string"},
        partitions={"type": "integer", "minimum": 1},
        replicas={"type": "integer", "minimum": 1, "maximum": 32767},
        config={
            "type": "object",
            "additionalProperties": {"type": ["string", "number", "boolean"]},
        },
    ),
)

SCALED_OBJECT = resource(
    "keda.sh/v1alpha1",
    "ScaledObject",
    closed(
        ["scaleTargetRef", "triggers"],
        scaleTargetRef=closed(
            ["name"],
            name={"type": "string"},
            apiVersion={"type": "string"},
            kind={"type": "string"},
            envSourceContainerName={"type": "string"},
        ),
        pollingInterval={"type": "integer", "minimum": 1},
        cooldownPeriod={"type": "integer", "minimum": 0},
        idleReplicaCount={"type": "integer", "minimum": 0},
        minReplicaCount={"type": "integer", "minimum": 0},
        maxReplicaCount={"type": "integer", "minimum": 1},
        triggers={
            "type": "array",
            "minItems": 1,
            "items": closed(
                ["type", "metadata"],
                type={"type": "string"},
                name={"type": "string"},
                metadata=STRING_MAP,
                metricType={"enum": ["AverageValue", "Value", "Utilization"]},
                authenticationRef=closed(["name"], name={"type": "string"}),
            ),
        },
    ),
)

POD_MONITOR = resource(
    "monitoring.coreos.com/v1",
    "PodMonitor",
    closed(
        ["selector"],
        selector=closed(
            [], matchLabels=LABELS, matchExpressions={"type": "array", "items": {"type": "object"}}
        ),
        namespaceSelector={"type": "object"},
        jobLabel={"type": "string"},
        podMetricsEndpoints={
            "type": "array",
            "items": closed(
                [],
                port={"type": "string"},
                path={"type": "string"},
                interval=DURATION,
                scrapeTimeout=DURATION,
                scheme={"enum": ["http", "https"]},
            ),
        },
    ),
)

PROMETHEUS_RULE = resource(
    "monitoring.coreos.com/v1",
    "PrometheusRule",
    closed(
        [],
        groups={
            "type": "array",
            "items": closed(
                ["name", "rules"],
                name={"type": "string"},
                interval=DURATION,
                rules={
                    "type": "array",
                    "items": closed(
                        ["expr"],
                        alert={"type": "string"},
                        record={"type": "string"},
                        expr={"type": ["string", "integer"]},
                        labels=LABELS,
                        annotations=LABELS,
                        **{"for": DURATION},
                    ),
                },
            ),
        },
    ),
)

BY_KIND: dict[tuple[str, str], dict[str, Any]] = {
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"): KAFKA_TOPIC,
    ("keda.sh/v1alpha1", "ScaledObject"): SCALED_OBJECT,
    ("monitoring.coreos.com/v1", "PodMonitor"): POD_MONITOR,
    ("monitoring.coreos.com/v1", "PrometheusRule"): PROMETHEUS_RULE,
}
