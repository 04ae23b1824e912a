using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace OrleansLm.Testing;

/// <summary>One value an instrument recorded, with its tags.</summary>
public sealed record RecordedMeasurement(string Instrument, double Value, IReadOnlyDictionary<string, object?> Tags)
{
    public string Tag(string key) => Tags.TryGetValue(key, out var value) ? Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "" : "";
}

/// <summary>
/// Records every measurement of the meters named, as <see cref="MeterListener"/> sees them (observable instruments
/// when <see cref="Observe"/> is called). Tests share static meters with whatever else runs in the process, so filter
/// what you read by a tag that is yours (a run id, a grain interface).
/// </summary>
public sealed class MeasurementRecorder : IDisposable
{
    private readonly MeterListener listener = new();
    private readonly ConcurrentQueue<RecordedMeasurement> recorded = new();

    public MeasurementRecorder(params string[] meterNames)
        : this(instrument => meterNames.Contains(instrument.Meter.Name))
    {
    }

    public MeasurementRecorder(Func<Instrument, bool> include)
    {
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (include(instrument)) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<double>((i, value, tags, _) => Add(i, value, tags));
        listener.SetMeasurementEventCallback<long>((i, value, tags, _) => Add(i, value, tags));
        listener.SetMeasurementEventCallback<int>((i, value, tags, _) => Add(i, value, tags));
        listener.Start();
    }

    /// <summary>Every measurement of <paramref name="instrument"/> so far, in the order recorded.</summary>
    public IReadOnlyList<RecordedMeasurement> Of(string instrument) => [.. recorded.Where(m => m.Instrument == instrument)];

    /// <summary>Reads the observable instruments once; their values join the recorded ones.</summary>
    public void Observe() => listener.RecordObservableInstruments();

    public void Dispose() => listener.Dispose();

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var copy = new Dictionary<string, object?>();
        foreach (var tag in tags) copy[tag.Key] = tag.Value;
        recorded.Enqueue(new RecordedMeasurement(instrument.Name, value, copy));
    }
}
