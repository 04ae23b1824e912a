namespace OrleansLm.Silo.Metrics;

/// <summary>The Prometheus metric types an OpenTelemetry metric becomes (its # TYPE line).</summary>
public enum PrometheusType
{
    Counter,
    Gauge,
    Histogram,
}
