// Prometheus metrics. One registry per process, created by the caller and passed in.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export function createMetrics(options: { defaults?: boolean } = {}) {
  const registry = new Registry()
  if (options.defaults ?? true) collectDefaultMetrics({ register: registry, prefix: 'stratum_' })
  const httpDuration = new Histogram({
    name: 'stratum_http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  })
  const jobsFinished = new Counter({
    name: 'stratum_jobs_finished_total',
    help: 'Job runs by type and outcome (completed, failed, retried, cancelled, timed_out)',
    labelNames: ['type', 'outcome'] as const,
    registers: [registry],
  })
  const jobDuration = new Histogram({
    name: 'stratum_job_duration_seconds',
    help: 'Job run duration by type and outcome',
    labelNames: ['type', 'outcome'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300, 1800],
    registers: [registry],
  })
  const consumerLag = new Gauge({
    name: 'stratum_event_consumer_lag_events',
    help: 'Committed events not yet delivered to each durable consumer (capped at 100000)',
    labelNames: ['consumer'] as const,
    registers: [registry],
  })
  const backlog = new Gauge({
    name: 'stratum_background_backlog',
    help: "Work a module's background upkeep had left at its last round (rollups: stale series-hours)",
    labelNames: ['task'] as const,
    registers: [registry],
  })
  return { registry, httpDuration, jobsFinished, jobDuration, consumerLag, backlog }
}

export type Metrics = ReturnType<typeof createMetrics>
