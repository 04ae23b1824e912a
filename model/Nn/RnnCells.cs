using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Nn;

/// <summary>The recurrence of a layer: Elman's tanh RNN, the LSTM or the GRU.</summary>
public enum RnnCellType
{
    Elman,
    Lstm,
    Gru,
}

public static class RnnCellTypes
{
    /// <summary>
    /// Reads "elman", "lstm" or "gru" (any case). The error names <paramref name="field"/>, prefixed by the
    /// <paramref name="config"/> it belongs to when given.
    /// </summary>
    public static RnnCellType Parse(string? name, string field, string? config = null) => name?.Trim().ToLowerInvariant() switch
    {
        "elman" => RnnCellType.Elman,
        "lstm" => RnnCellType.Lstm,
        "gru" => RnnCellType.Gru,
        _ => throw new ArgumentException(
            $"{(config is null ? "" : config + ".")}{field}: unknown recurrent cell '{name}' (expected elman, lstm or gru)", field),
    };

    public static RecurrentCell Create(RnnCellType type, long inputSize, long hiddenSize) => type switch
    {
        RnnCellType.Elman => new ElmanCell(inputSize, hiddenSize),
        RnnCellType.Lstm => new LstmCell(inputSize, hiddenSize),
        RnnCellType.Gru => new GruCell(inputSize, hiddenSize),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown recurrent cell"),
    };
}

/// <summary>A cell's state after a step: h [B, H], and for an LSTM the memory cell c [B, H].</summary>
public readonly record struct CellState(Tensor Hidden, Tensor? Cell = null);

/// <summary>
/// One recurrent layer's step function, with PyTorch's layout: W_ih [G·H, in], W_hh [G·H, H], b_ih and
/// b_hh [G·H], the G gates stacked in PyTorch's order, all drawn from U(−1/√H, 1/√H).
/// </summary>
public abstract class RecurrentCell : Module
{
    protected RecurrentCell(long inputSize, long hiddenSize, int gates)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputSize, 1, nameof(inputSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(hiddenSize, 1, nameof(hiddenSize));
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        var bound = 1 / Math.Sqrt(hiddenSize);
        Tensor Uniform(params long[] shape) => Tensor.Zeros(shape).UniformInPlace(-bound, bound);
        WeightIh = RegisterParameter("weight_ih", Uniform(gates * hiddenSize, inputSize));
        WeightHh = RegisterParameter("weight_hh", Uniform(gates * hiddenSize, hiddenSize));
        BiasIh = RegisterParameter("bias_ih", Uniform(gates * hiddenSize));
        BiasHh = RegisterParameter("bias_hh", Uniform(gates * hiddenSize));
    }

    public long InputSize { get; }

    public long HiddenSize { get; }

    public Tensor WeightIh { get; }

    public Tensor WeightHh { get; }

    public Tensor BiasIh { get; }

    public Tensor BiasHh { get; }

    /// <summary>W_ih x + b_ih, [..., in] → [..., G·H]. It does not depend on h, so a scan computes it for all steps at once.</summary>
    public Tensor ProjectInput(Tensor x) => Functional.Linear(x, WeightIh, BiasIh);

    /// <summary>One step from the projected input <paramref name="xProjected"/> [B, G·H].</summary>
    public abstract CellState Step(Tensor xProjected, CellState state);

    /// <summary>One step on x [B, in].</summary>
    public CellState Forward(Tensor x, CellState state) => Step(ProjectInput(x), state);

    /// <summary>
    /// Runs the cell over x [B, T, in] from <paramref name="state"/>: forward in time, or from t = T−1 down
    /// to 0 when <paramref name="reverse"/> (the backward half of a bidirectional layer). Returns h_t for
    /// every t [B, T, H], in time order, and the state after the last step taken.
    /// </summary>
    public (Tensor Outputs, CellState Final) Scan(Tensor x, CellState state, bool reverse = false)
    {
        var steps = (int)x.Shape[1];
        var projected = ProjectInput(x);  // [B, T, G·H]
        var outputs = new Tensor[steps];
        for (var k = 0; k < steps; k++)
        {
            var t = reverse ? steps - 1 - k : k;
            state = Step(projected.Select(1, t), state);
            outputs[t] = state.Hidden;
        }
        return (Tensor.Stack(outputs, dim: 1), state);
    }

    /// <summary>Gate <paramref name="index"/> of pre-activations [..., G·H] stacked in PyTorch's order.</summary>
    protected Tensor Gate(Tensor stacked, int index) => stacked.Narrow(-1, index * HiddenSize, HiddenSize);
}

/// <summary>Elman's RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh).</summary>
public sealed class ElmanCell(long inputSize, long hiddenSize) : RecurrentCell(inputSize, hiddenSize, gates: 1)
{
    public override CellState Step(Tensor xProjected, CellState state) =>
        new((xProjected + Functional.Linear(state.Hidden, WeightHh, BiasHh)).Tanh());
}

/// <summary>
/// The LSTM: gates i, f, g, o from W_ih x_t + b_ih + W_hh h_{t−1} + b_hh;
/// c_t = f ⊙ c_{t−1} + i ⊙ g, h_t = o ⊙ tanh(c_t).
/// </summary>
public sealed class LstmCell(long inputSize, long hiddenSize) : RecurrentCell(inputSize, hiddenSize, gates: 4)
{
    public override CellState Step(Tensor xProjected, CellState state)
    {
        var c = state.Cell ?? throw new ArgumentException("an LSTM state needs its memory cell c", nameof(state));
        var gates = xProjected + Functional.Linear(state.Hidden, WeightHh, BiasHh);  // [B, 4H]
        var i = Gate(gates, 0).Sigmoid();
        var f = Gate(gates, 1).Sigmoid();
        var g = Gate(gates, 2).Tanh();
        var o = Gate(gates, 3).Sigmoid();
        var cNext = f * c + i * g;
        return new(o * cNext.Tanh(), cNext);
    }
}

/// <summary>
/// The GRU: r = σ(W_ir x + b_ir + W_hr h + b_hr), z = σ(W_iz x + b_iz + W_hz h + b_hz),
/// n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h' = (1 − z) ⊙ n + z ⊙ h.
/// </summary>
public sealed class GruCell(long inputSize, long hiddenSize) : RecurrentCell(inputSize, hiddenSize, gates: 3)
{
    public override CellState Step(Tensor xProjected, CellState state)
    {
        var h = state.Hidden;
        var hProjected = Functional.Linear(h, WeightHh, BiasHh);  // [B, 3H]
        var r = (Gate(xProjected, 0) + Gate(hProjected, 0)).Sigmoid();
        var z = (Gate(xProjected, 1) + Gate(hProjected, 1)).Sigmoid();
        var n = (Gate(xProjected, 2) + r * Gate(hProjected, 2)).Tanh();
        return new((1 - z) * n + z * h);
    }
}
