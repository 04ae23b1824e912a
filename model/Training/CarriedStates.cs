using OrleansLm.Model.Nn;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Training;

/// <summary>
/// The recurrent state each batch part leaves for the next batch under truncated BPTT: detached, so gradients
/// stop at the segment boundary, and owned here until replaced. Saved with checkpoints so a resumed run
/// continues the exact trajectory.
/// </summary>
internal sealed class CarriedStates(int parts) : IDisposable
{
    private const string HiddenSuffix = ".hidden";
    private const string CellSuffix = ".cell";

    private readonly RnnState?[] states = new RnnState?[parts];

    /// <summary>What part <paramref name="part"/>'s previous batch left; null before the first.</summary>
    public RnnState? this[int part] => states[part];

    /// <summary>Keeps <paramref name="final"/>'s values, without its autograd history, for part <paramref name="part"/>'s next batch.</summary>
    public void Carry(int part, RnnState final)
    {
        var next = final.Detach().DetachFromDisposeScope();
        states[part]?.Dispose();
        states[part] = next;
    }

    /// <summary>"{part}.hidden" and "{part}.cell" for every part that holds a state.</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> StateDict()
    {
        for (var part = 0; part < states.Length; part++)
        {
            if (states[part] is not { } state) continue;
            yield return new($"{part}{HiddenSuffix}", state.Hidden);
            if (state.Cell is { } cell) yield return new($"{part}{CellSuffix}", cell);
        }
    }

    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> tensors)
    {
        for (var part = 0; part < states.Length; part++)
        {
            states[part]?.Dispose();
            states[part] = tensors.TryGetValue($"{part}{HiddenSuffix}", out var hidden)
                ? new RnnState(hidden.Clone(), tensors.GetValueOrDefault($"{part}{CellSuffix}")?.Clone()).DetachFromDisposeScope()
                : null;
        }
    }

    public void Dispose()
    {
        foreach (var state in states) state?.Dispose();
        Array.Clear(states);
    }
}
