'use strict';
// Optional OpenTelemetry metrics for the example. OTEL_CONSOLE=1 prints the token cache's metrics (README.md,
// "Metrics": hits and misses by CacheLevel, Redis call durations, conflicts, the circuit breaker, ...) to the console
// every OTEL_CONSOLE_INTERVAL_MS (default 10000). It must run before the RedisTokenCache is created: the cache takes
// the global MeterProvider when it is made, as OpenTelemetry instrumentations do.
//
//   OTEL_CONSOLE=1 npm start

const DEFAULT_INTERVAL_MS = 10000;

/**
 * Registers a global MeterProvider with a console exporter when env.OTEL_CONSOLE is "1".
 * @returns {{ shutdown(): Promise<void> } | null} the provider (flush and stop it on exit), or null when off
 */
function startTelemetry(env = process.env, logger = console) {
  if (env.OTEL_CONSOLE !== '1') return null;
  let api;
  let sdk;
  try {
    api = require('@opentelemetry/api');
    sdk = require('@opentelemetry/sdk-metrics');
  } catch {
    logger.warn('OTEL_CONSOLE=1 needs the OpenTelemetry API and SDK: npm install @opentelemetry/api @opentelemetry/sdk-metrics');
    return null;
  }
  const interval = Number(env.OTEL_CONSOLE_INTERVAL_MS) || DEFAULT_INTERVAL_MS;
  const provider = new sdk.MeterProvider({
    readers: [
      new sdk.PeriodicExportingMetricReader({ exporter: new sdk.ConsoleMetricExporter(), exportIntervalMillis: interval }),
    ],
  });
  api.metrics.setGlobalMeterProvider(provider);
  logger.log(`OpenTelemetry: metrics printed to the console every ${interval / 1000} s (OTEL_CONSOLE=1)`);
  return provider;
}

module.exports = { startTelemetry };
