using System.Diagnostics.Metrics;
using System.Globalization;
using OrleansLm.Model.Torch;

namespace OrleansLm.Silo.Metrics;

/// <summary>
/// The process's vital signs as observable instruments of the meter <see cref="MeterName"/>, named so that they come
/// out as Prometheus' usual process metrics: process_cpu_seconds_total, process_resident_memory_bytes,
/// process_open_fds, dotnet_total_memory_bytes, dotnet_gc_collections_total{generation}, dotnet_thread_pool_threads,
/// and olm_tensors_live (libtorch tensors not yet freed: a leak shows as a climb).
/// <para>
/// One meter for the process, never disposed: the OpenTelemetry SDK routes instruments of the same meter and name to
/// one metric stream and drops the stream when any of them is disposed, so a second, short-lived instance (a silo
/// hosted and stopped in the same process, as tests do) would take the survivor's series with it.
/// </para>
/// </summary>
public static class ProcessMetrics
{
    public const string MeterName = "OrleansLm.Process";

    private const string FileDescriptors = "/proc/self/fd";

    private static readonly Lazy<Meter> Meter = new(Create);

    /// <summary>Publishes the instruments, once per process.</summary>
    public static void Start() => _ = Meter.Value;

    private static Meter Create()
    {
        var meter = new Meter(MeterName);
        meter.CreateObservableCounter("process.cpu", () => Environment.CpuUsage.TotalTime.TotalSeconds,
            unit: "s", description: "CPU time of the process, user and system.");
        meter.CreateObservableGauge("process.resident_memory", () => Environment.WorkingSet,
            unit: "By", description: "Resident set size of the process.");
        if (Directory.Exists(FileDescriptors))
            meter.CreateObservableGauge("process.open_fds", () => Directory.EnumerateFileSystemEntries(FileDescriptors).Count(),
                unit: "{file_descriptor}", description: "File descriptors the process has open.");
        meter.CreateObservableGauge("dotnet.total_memory", () => GC.GetTotalMemory(forceFullCollection: false),
            unit: "By", description: "Bytes allocated on the managed heap and not yet collected.");
        meter.CreateObservableCounter("dotnet.gc.collections", GarbageCollections,
            unit: "{collection}", description: "Garbage collections of each generation (a collection of a generation collects the younger ones too).");
        meter.CreateObservableGauge("dotnet.thread_pool.threads", () => ThreadPool.ThreadCount,
            unit: "{thread}", description: "Threads of the .NET thread pool.");
        meter.CreateObservableGauge("olm.tensors.live", LiveTensors,
            unit: "{tensor}", description: "Native libtorch tensors alive in the process.");
        return meter;
    }

    private static IEnumerable<Measurement<long>> GarbageCollections() =>
        Enumerable.Range(0, GC.MaxGeneration + 1)
            .Select(generation => new Measurement<long>(GC.CollectionCount(generation), new KeyValuePair<string, object?>("generation", generation.ToString(CultureInfo.InvariantCulture))));

    /// <summary>None when libtorch does not load (the silo then reports itself not serving; its metrics still serve).</summary>
    private static IEnumerable<Measurement<long>> LiveTensors()
    {
        long count;
        try
        {
            count = LibTorch.LiveTensorCount;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            return [];
        }
        return [new Measurement<long>(count)];
    }
}
