//! Which compute backend runs, and why. Pure policy: the browser glue in
//! `webgpu.rs` gathers the facts (URL parameter, adapter probe, init result)
//! and this module decides, so every branch is unit-tested natively.

/// What the visitor (or a test) asked for with `?backend=` or the header control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendRequest {
    /// Pick the fastest: a hardware WebGPU adapter if there is one, else the CPU.
    #[default]
    Auto,
    /// Use WebGPU even if the only adapter is a software one (e.g. SwiftShader).
    WebGpu,
    /// Use burn's CPU backend compiled to WebAssembly.
    Cpu,
}

impl BackendRequest {
    /// Reads the `backend` parameter of a URL query string (`?a=1&backend=cpu`).
    /// Unknown values mean `Auto`, so a mistyped link still opens the app.
    pub fn from_query(query: &str) -> Self {
        query
            .trim_start_matches('?')
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == "backend")
            .map(|(_, value)| match value.to_ascii_lowercase().as_str() {
                "webgpu" | "gpu" => BackendRequest::WebGpu,
                "cpu" => BackendRequest::Cpu,
                _ => BackendRequest::Auto,
            })
            .unwrap_or_default()
    }

    /// The value to write back into the URL, `None` for the default.
    pub fn query_value(self) -> Option<&'static str> {
        match self {
            BackendRequest::Auto => None,
            BackendRequest::WebGpu => Some("webgpu"),
            BackendRequest::Cpu => Some("cpu"),
        }
    }
}

/// What `navigator.gpu.requestAdapter()` gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdapterProbe {
    /// `navigator.gpu` does not exist: the browser has no WebGPU.
    NoWebGpuApi,
    /// WebGPU exists but no adapter was offered (blocklisted GPU, flag off, ...).
    NoAdapter,
    /// The request itself threw or rejected.
    RequestFailed(String),
    /// An adapter; `is_fallback` is WebGPU's `isFallbackAdapter` (a software
    /// rasteriser); `subgroups`: it offers WebGPU's `subgroups` feature.
    Adapter {
        name: String,
        is_fallback: bool,
        subgroups: bool,
    },
}

/// Why the app runs on the CPU. Each has a calm one-line explanation in the
/// translation table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CpuReason {
    Requested,
    NoWebGpuApi,
    NoAdapter,
    AdapterRequestFailed(String),
    /// Only a software adapter exists; burn's CPU backend is faster than it
    /// (256×256 matmul: ~235 ms on SwiftShader WebGPU vs ~10 ms on CPU in wasm).
    SoftwareAdapterSlower {
        adapter: String,
    },
    /// The adapter lacks WebGPU's `subgroups` feature. burn's tuned matmul
    /// kernels use subgroup operations; without the feature the browser
    /// rejects them, and a rejected kernel's dropped work can look fastest
    /// to the tuner and be chosen: wrong numbers. The CPU is right instead.
    NoSubgroups {
        adapter: String,
    },
    InitFailed(String),
    SelftestFailed(String),
    DeviceLost(String),
}

/// The decision taken before any device is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Initialise burn's wgpu runtime on this adapter, then run the self-test.
    WebGpu {
        adapter: String,
        is_fallback: bool,
    },
    Cpu(CpuReason),
}

/// Decides which backend to try from the request and the adapter probe.
pub fn plan(request: BackendRequest, probe: &AdapterProbe) -> Plan {
    match (request, probe) {
        (BackendRequest::Cpu, _) => Plan::Cpu(CpuReason::Requested),
        (_, AdapterProbe::NoWebGpuApi) => Plan::Cpu(CpuReason::NoWebGpuApi),
        (_, AdapterProbe::NoAdapter) => Plan::Cpu(CpuReason::NoAdapter),
        (_, AdapterProbe::RequestFailed(e)) => {
            Plan::Cpu(CpuReason::AdapterRequestFailed(e.clone()))
        }
        (
            _,
            AdapterProbe::Adapter {
                name,
                subgroups: false,
                ..
            },
        ) => Plan::Cpu(CpuReason::NoSubgroups {
            adapter: name.clone(),
        }),
        (
            BackendRequest::Auto,
            AdapterProbe::Adapter {
                name,
                is_fallback: true,
                ..
            },
        ) => Plan::Cpu(CpuReason::SoftwareAdapterSlower {
            adapter: name.clone(),
        }),
        (
            _,
            AdapterProbe::Adapter {
                name, is_fallback, ..
            },
        ) => Plan::WebGpu {
            adapter: name.clone(),
            is_fallback: *is_fallback,
        },
    }
}

/// A readable adapter name from WebGPU's `GPUAdapterInfo` fields, which are
/// often partly empty (browsers hide details for privacy).
pub fn adapter_display_name(vendor: &str, architecture: &str, description: &str) -> String {
    let description = description.trim();
    if !description.is_empty() {
        return description.to_string();
    }
    let parts: Vec<&str> = [vendor.trim(), architecture.trim()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    if parts.is_empty() {
        "unnamed adapter".to_string()
    } else {
        parts.join(" ")
    }
}

/// Most embedding workers a page asks for: each holds its own replica
/// (MiniLM: 87 MB of weights, plus its wasm memory).
pub const MAX_EMBED_WORKERS: usize = 4;

/// How many Web Workers embed sentences on the CPU backend
/// (`runtime::embed_pool`): `?workers=N` when given (0 turns them off),
/// else two where the browser reports two cores or more, and none on one
/// core, where a second replica would only share it.
pub fn embed_workers(requested: Option<&str>, cores: f64) -> usize {
    if let Some(n) = requested.and_then(|v| v.trim().parse::<usize>().ok()) {
        return n.min(MAX_EMBED_WORKERS);
    }
    if cores >= 2.0 {
        2
    } else {
        0
    }
}

/// Whether the SimCLR and SimCSE pages train in a Web Worker with WebGPU of
/// its own (`app_worker::training_worker`): yes on WebGPU, unless
/// `?workers=0` turns the page's workers off.
pub fn train_in_worker(requested: Option<&str>) -> bool {
    requested.and_then(|v| v.trim().parse::<usize>().ok()) != Some(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn training_moves_to_a_worker_unless_workers_are_off() {
        assert!(train_in_worker(None));
        assert!(train_in_worker(Some("2")));
        assert!(train_in_worker(Some("many")));
        assert!(!train_in_worker(Some("0")));
        assert!(!train_in_worker(Some(" 0 ")));
    }

    #[test]
    fn embed_workers_follow_the_query_then_the_cores() {
        assert_eq!(embed_workers(None, 2.0), 2);
        assert_eq!(embed_workers(None, 16.0), 2);
        assert_eq!(embed_workers(None, 1.0), 0);
        assert_eq!(embed_workers(None, 0.0), 0);
        assert_eq!(embed_workers(Some("0"), 8.0), 0);
        assert_eq!(embed_workers(Some("3"), 1.0), 3);
        assert_eq!(embed_workers(Some("99"), 8.0), MAX_EMBED_WORKERS);
        assert_eq!(embed_workers(Some("many"), 2.0), 2);
    }

    fn adapter(is_fallback: bool) -> AdapterProbe {
        AdapterProbe::Adapter {
            name: "SwiftShader".into(),
            is_fallback,
            subgroups: true,
        }
    }

    #[test]
    fn query_parameter_is_parsed() {
        assert_eq!(
            BackendRequest::from_query("?backend=cpu"),
            BackendRequest::Cpu
        );
        assert_eq!(
            BackendRequest::from_query("?lang=zh&backend=WebGPU"),
            BackendRequest::WebGpu
        );
        assert_eq!(
            BackendRequest::from_query("backend=gpu"),
            BackendRequest::WebGpu
        );
        assert_eq!(
            BackendRequest::from_query("?backend=tpu"),
            BackendRequest::Auto
        );
        assert_eq!(BackendRequest::from_query(""), BackendRequest::Auto);
        assert_eq!(
            BackendRequest::from_query("?backendx=cpu"),
            BackendRequest::Auto
        );
    }

    #[test]
    fn query_value_round_trips() {
        for r in [
            BackendRequest::Auto,
            BackendRequest::WebGpu,
            BackendRequest::Cpu,
        ] {
            let q = r
                .query_value()
                .map(|v| format!("backend={v}"))
                .unwrap_or_default();
            assert_eq!(BackendRequest::from_query(&q), r);
        }
    }

    #[test]
    fn cpu_request_wins_over_any_adapter() {
        assert_eq!(
            plan(BackendRequest::Cpu, &adapter(false)),
            Plan::Cpu(CpuReason::Requested)
        );
    }

    #[test]
    fn missing_webgpu_falls_back_whatever_was_requested() {
        for r in [BackendRequest::Auto, BackendRequest::WebGpu] {
            assert_eq!(
                plan(r, &AdapterProbe::NoWebGpuApi),
                Plan::Cpu(CpuReason::NoWebGpuApi)
            );
            assert_eq!(
                plan(r, &AdapterProbe::NoAdapter),
                Plan::Cpu(CpuReason::NoAdapter)
            );
            assert_eq!(
                plan(r, &AdapterProbe::RequestFailed("boom".into())),
                Plan::Cpu(CpuReason::AdapterRequestFailed("boom".into()))
            );
        }
    }

    #[test]
    fn software_adapter_prefers_cpu_unless_webgpu_is_forced() {
        assert_eq!(
            plan(BackendRequest::Auto, &adapter(true)),
            Plan::Cpu(CpuReason::SoftwareAdapterSlower {
                adapter: "SwiftShader".into()
            })
        );
        assert_eq!(
            plan(BackendRequest::WebGpu, &adapter(true)),
            Plan::WebGpu {
                adapter: "SwiftShader".into(),
                is_fallback: true
            }
        );
    }

    #[test]
    fn hardware_adapter_is_used_by_default() {
        assert_eq!(
            plan(BackendRequest::Auto, &adapter(false)),
            Plan::WebGpu {
                adapter: "SwiftShader".into(),
                is_fallback: false
            }
        );
    }

    #[test]
    fn an_adapter_without_subgroups_runs_on_the_cpu_even_when_forced() {
        for request in [BackendRequest::Auto, BackendRequest::WebGpu] {
            for is_fallback in [false, true] {
                let probe = AdapterProbe::Adapter {
                    name: "GPU".into(),
                    is_fallback,
                    subgroups: false,
                };
                assert_eq!(
                    plan(request, &probe),
                    Plan::Cpu(CpuReason::NoSubgroups {
                        adapter: "GPU".into()
                    })
                );
            }
        }
    }

    #[test]
    fn adapter_names_fall_back_to_vendor_and_architecture() {
        assert_eq!(
            adapter_display_name("google", "swiftshader", ""),
            "google swiftshader"
        );
        assert_eq!(adapter_display_name("nvidia", "", " RTX 4090 "), "RTX 4090");
        assert_eq!(adapter_display_name("", "", ""), "unnamed adapter");
    }
}
