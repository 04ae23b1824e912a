using System.Diagnostics;
using System.Diagnostics.Metrics;
using OrleansLm.Protos.Grpc;

namespace OrleansLm.Silo.Metrics;

/// <summary>
/// The gRPC gateway's instruments (meter <see cref="Name"/>): calls by method and status code, their latency, streams
/// open, and for streamed generation the time to the first token and the tokens sent. Methods the gateway does not
/// serve share the label "unknown", so a scanner cannot make series without bound.
/// </summary>
public static class GatewayMeters
{
    public const string Name = "OrleansLm.Gateway";
    public const string UnknownMethod = "unknown";

    private static readonly Meter Meter = new(Name);

    private static readonly Counter<long> Requests = Meter.CreateCounter<long>("olm.gateway.requests", "{call}",
        "gRPC calls the gateway finished, by method and status code (Cancelled: the client went away).");
    private static readonly Histogram<double> Duration = Meter.CreateHistogram<double>("olm.gateway.request.duration", "s",
        "Time from a gRPC call's arrival to its status, by method (a stream's whole life for streaming methods).");
    private static readonly UpDownCounter<long> ActiveStreams = Meter.CreateUpDownCounter<long>("olm.gateway.streams.active", "{stream}",
        "Server-streaming gRPC calls open now, by method.");
    private static readonly Histogram<double> TimeToFirstToken = Meter.CreateHistogram<double>("olm.gateway.time_to_first_token", "s",
        "Time from a GenerateStream call's arrival to its first token, by model.");
    private static readonly Counter<long> StreamedTokens = Meter.CreateCounter<long>("olm.gateway.streamed_tokens", "{token}",
        "Tokens GenerateStream sent, by model.");

    /// <summary>Starts measuring a call to <paramref name="method"/> ("package.Service/Method", or <see cref="UnknownMethod"/>).</summary>
    public static CallMeasurement Begin(string method, bool streaming)
    {
        if (streaming) ActiveStreams.Add(1, new KeyValuePair<string, object?>("method", method));
        return new CallMeasurement(method, streaming, Stopwatch.GetTimestamp());
    }

    public static void FirstToken(string model, long callStarted) =>
        TimeToFirstToken.Record(Stopwatch.GetElapsedTime(callStarted).TotalSeconds, new KeyValuePair<string, object?>("model", model));

    public static void Streamed(string model, int tokens) => StreamedTokens.Add(tokens, new KeyValuePair<string, object?>("model", model));

    /// <summary>One call in flight; <see cref="End"/> records it once.</summary>
    public readonly record struct CallMeasurement(string Method, bool Streaming, long Started)
    {
        public void End(StatusCode code)
        {
            var method = new KeyValuePair<string, object?>("method", Method);
            if (Streaming) ActiveStreams.Add(-1, method);
            Requests.Add(1, method, new KeyValuePair<string, object?>("code", code.ToString()));
            Duration.Record(Stopwatch.GetElapsedTime(Started).TotalSeconds, method);
        }
    }
}
