using OrleansLm.Model.Training;

namespace OrleansLm.Model.Tests.Training;

/// <summary>Collects a trainer's reports: every event, or just the step losses.</summary>
internal sealed class ListProgress : IProgress<TrainingEvent>
{
    private readonly Action<TrainingEvent> onEvent;

    public ListProgress(List<double> losses) => onEvent = e =>
    {
        if (e.Kind == TrainingEventKind.Step) losses.Add(e.Loss);
    };

    public ListProgress(List<TrainingEvent> events, Action<TrainingEvent>? also = null) => onEvent = e =>
    {
        events.Add(e);
        also?.Invoke(e);
    };

    public void Report(TrainingEvent value) => onEvent(value);
}
