//! Process and host figures sampled by a background thread with `sysinfo`,
//! so no request ever pays for reading `/proc`.

use metrics_exporter_prometheus::PrometheusHandle;
use serde::Serialize;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use sysinfo::{Disks, Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// One sample of the process and its host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct SystemSample {
    /// CPU used by this process, percent of one core (can exceed 100).
    pub process_cpu_percent: f64,
    /// Resident memory of this process, bytes.
    pub process_resident_bytes: u64,
    /// Host CPU use, percent of all cores.
    pub cpu_percent: f64,
    /// Host memory in use, percent.
    pub memory_percent: f64,
    /// Use of the disk holding the working directory, percent.
    pub disk_percent: f64,
}

/// Holds the latest sample; [`spawn`](Self::spawn) keeps it fresh.
#[derive(Clone, Default)]
pub(super) struct Sampler {
    latest: Arc<Mutex<SystemSample>>,
}

impl Sampler {
    /// The latest sample.
    pub(super) fn latest(&self) -> SystemSample {
        *self
            .latest
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Starts the sampling thread: every `period`, sample, publish the
    /// gauges, and run the exporter's upkeep (which drains histogram
    /// buffers so their memory stays bounded). A thread rather than a tokio
    /// task because the registry is process-global and must outlive any one
    /// runtime (each `#[tokio::test]` has its own).
    pub(super) fn spawn(&self, handle: PrometheusHandle, period: Duration) {
        let latest = self.latest.clone();
        let spawned = std::thread::Builder::new()
            .name("metrics-sampler".into())
            .spawn(move || {
                let mut probe = Probe::new();
                loop {
                    if let Some(probe) = probe.as_mut() {
                        let sample = probe.sample();
                        publish(&sample);
                        *latest.lock().unwrap_or_else(|poison| poison.into_inner()) = sample;
                    }
                    handle.run_upkeep();
                    std::thread::sleep(period);
                }
            });
        if let Err(err) = spawned {
            tracing::warn!(error = %err, "could not start the metrics sampler thread");
        }
    }
}

/// Sets the sampled gauges.
fn publish(sample: &SystemSample) {
    metrics::gauge!("process_cpu_usage_percent").set(sample.process_cpu_percent);
    metrics::gauge!("process_resident_memory_bytes").set(sample.process_resident_bytes as f64);
    metrics::gauge!("system_cpu_usage_percent").set(sample.cpu_percent);
    metrics::gauge!("system_memory_usage_percent").set(sample.memory_percent);
    metrics::gauge!("system_disk_usage_percent").set(sample.disk_percent);
}

/// The sysinfo state kept between samples (CPU use is a difference between
/// two refreshes, so the `System` must persist).
struct Probe {
    system: System,
    disks: Option<Disks>,
    pid: Pid,
}

impl Probe {
    fn new() -> Option<Self> {
        let system = System::new()
            .inspect_err(|err| tracing::warn!(error = %err, "sysinfo unavailable"))
            .ok()?;
        let pid = sysinfo::get_current_pid().ok()?;
        Some(Self {
            system,
            disks: Disks::new_with_refreshed_list().ok(),
            pid,
        })
    }

    fn sample(&mut self) -> SystemSample {
        self.system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[self.pid]),
            true,
            ProcessRefreshKind::nothing().with_cpu().with_memory(),
        );
        self.system.refresh_cpu_usage();
        self.system.refresh_memory();
        let (process_cpu_percent, process_resident_bytes) = self
            .system
            .process(self.pid)
            .map(|p| (f64::from(p.cpu_usage()), p.memory()))
            .unwrap_or_default();
        let total = self.system.total_memory();
        let memory_percent = if total == 0 {
            0.0
        } else {
            self.system.used_memory() as f64 * 100.0 / total as f64
        };
        SystemSample {
            process_cpu_percent,
            process_resident_bytes,
            cpu_percent: f64::from(self.system.global_cpu_usage()),
            memory_percent,
            disk_percent: self.disk_percent(),
        }
    }

    /// Use of the disk whose mount point is the longest prefix of the
    /// working directory (where the SQLite file and logs live).
    fn disk_percent(&mut self) -> f64 {
        let Some(disks) = self.disks.as_mut() else {
            return 0.0;
        };
        disks.refresh(false);
        let cwd = std::env::current_dir().unwrap_or_else(|_| Path::new("/").to_path_buf());
        disks
            .iter()
            .filter(|disk| cwd.starts_with(disk.mount_point()))
            .max_by_key(|disk| disk.mount_point().as_os_str().len())
            .filter(|disk| disk.total_space() > 0)
            .map(|disk| {
                let used = disk.total_space().saturating_sub(disk.available_space());
                used as f64 * 100.0 / disk.total_space() as f64
            })
            .unwrap_or(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_sees_this_process() {
        let mut probe = Probe::new().expect("sysinfo works on Linux");
        let sample = probe.sample();
        assert!(sample.process_resident_bytes > 0, "{sample:?}");
        assert!((0.0..=100.0).contains(&sample.memory_percent), "{sample:?}");
        assert!((0.0..=100.0).contains(&sample.disk_percent), "{sample:?}");
    }
}
