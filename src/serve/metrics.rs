//! `/metrics`: requests, latencies, queue depth and keys in memory, in the Prometheus
//! (OpenMetrics) text format.

use std::time::Duration;

use prometheus_client::encoding::{text::encode, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use super::keys::{KeyStats, Role};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    endpoint: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RoleLabels {
    role: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: String,
}

type Latencies = Family<EndpointLabels, Histogram, fn() -> Histogram>;

/// The service's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Latencies,
    waiting: Family<QueueLabels, Gauge>,
    running: Family<QueueLabels, Gauge>,
    keys: Family<RoleLabels, Gauge>,
    key_bytes: Gauge,
    evictions: Gauge,
    models: Gauge,
    body_bytes: Gauge,
}

fn latency_histogram() -> Histogram {
    // 1 ms to about 9 minutes.
    Histogram::new(exponential_buckets(0.001, 2.0, 20))
}

impl Metrics {
    /// Registers every metric under the `zkinfer_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("zkinfer");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Latencies::new_with_constructor(latency_histogram);
        let waiting = Family::<QueueLabels, Gauge>::default();
        let running = Family::<QueueLabels, Gauge>::default();
        let keys = Family::<RoleLabels, Gauge>::default();
        let (key_bytes, evictions, models) = (Gauge::default(), Gauge::default(), Gauge::default());
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time to answer a request, by endpoint",
            latency.clone(),
        );
        registry.register(
            "queue_waiting",
            "Jobs waiting for a slot (prove or verify)",
            waiting.clone(),
        );
        registry.register("queue_running", "Jobs running", running.clone());
        registry.register("keys_in_memory", "Keys held in memory", keys.clone());
        registry.register(
            "key_memory_estimated_bytes",
            "Estimated bytes of the keys held",
            key_bytes.clone(),
        );
        registry.register(
            "key_evictions",
            "Keys evicted to stay within the memory budget",
            evictions.clone(),
        );
        registry.register("models", "Models loaded", models.clone());
        let body_bytes = Gauge::default();
        registry.register(
            "body_bytes_in_flight",
            "Bytes of request bodies held now (bounded by the in-flight body limit)",
            body_bytes.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            waiting,
            running,
            keys,
            key_bytes,
            evictions,
            models,
            body_bytes,
        }
    }

    /// Counts one answered request.
    pub fn request(&self, method: &str, endpoint: &str, status: u16, took: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.into(),
                endpoint: endpoint.into(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&EndpointLabels {
                endpoint: endpoint.into(),
            })
            .observe(took.as_secs_f64());
    }

    /// The text exposition, with the gauges read now.
    pub fn render(
        &self,
        queues: &[(&str, usize, usize)],
        keys: KeyStats,
        models: usize,
        body_bytes: usize,
    ) -> String {
        let gauge = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
        for &(queue, waiting, running) in queues {
            let labels = QueueLabels {
                queue: queue.into(),
            };
            self.waiting.get_or_create(&labels).set(gauge(waiting));
            self.running.get_or_create(&labels).set(gauge(running));
        }
        for (role, count) in [
            (Role::Prover, keys.provers),
            (Role::Verifier, keys.verifiers),
        ] {
            self.keys
                .get_or_create(&RoleLabels {
                    role: role.as_str().into(),
                })
                .set(gauge(count));
        }
        self.key_bytes
            .set(i64::try_from(keys.bytes).unwrap_or(i64::MAX));
        self.evictions
            .set(i64::try_from(keys.evictions).unwrap_or(i64::MAX));
        self.models.set(gauge(models));
        self.body_bytes.set(gauge(body_bytes));
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}
