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

    /// <summary>Restores what <see cref="StateDict"/> gave, onto <paramref name="device"/> (the model's).</summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> tensors, Device device)
    {
        for (var part = 0; part < states.Length; part++)
        {
            states[part]?.Dispose();
            states[part] = tensors.TryGetValue($"{part}{HiddenSuffix}", out var hidden)
                ? new RnnState(CopyTo(hidden, device), tensors.TryGetValue($"{part}{CellSuffix}", out var cell) ? CopyTo(cell, device) : null).DetachFromDisposeScope()
                : null;
        }
    }

    // A copy of its own: the tensors loaded from a file are disposed with it.
    private static Tensor CopyTo(Tensor tensor, Device device)
    {
        using var moved = tensor.To(device);
        return moved.Clone();
    }

    public void Dispose()
    {
        foreach (var state in states) state?.Dispose();
        Array.Clear(states);
    }
}
