using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Nn;

/// <summary>
/// A stacked, optionally bidirectional recurrent network over batch-first input, as PyTorch's nn.RNN
/// (tanh), nn.LSTM and nn.GRU with batch_first=True: same parameter names and shapes (weight_ih_l{k},
/// weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}, "_reverse" for the backward direction), same state layout,
/// dropout on the outputs of every layer but the last.
/// </summary>
public sealed class Rnn : Module
{
    private readonly RecurrentCell[][] cells;  // [layer][direction]

    public Rnn(RnnCellType cellType, long inputSize, long hiddenSize, int numLayers = 1, double dropout = 0, bool bidirectional = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numLayers, 1, nameof(numLayers));
        if (dropout is not (>= 0 and < 1))
            throw new ArgumentOutOfRangeException(nameof(dropout), dropout, "dropout probability must be in [0, 1)");
        CellType = cellType;
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        NumLayers = numLayers;
        Dropout = dropout;
        Directions = bidirectional ? 2 : 1;
        cells = new RecurrentCell[numLayers][];
        for (var layer = 0; layer < numLayers; layer++)
        {
            cells[layer] = new RecurrentCell[Directions];
            for (var direction = 0; direction < Directions; direction++)
            {
                var cell = RnnCellTypes.Create(cellType, layer == 0 ? inputSize : Directions * hiddenSize, hiddenSize);
                // The stack owns the cells' tensors under nn.LSTM's flat names, so state dicts carry over
                // to and from PyTorch and the list is already in the order the fused kernels take.
                var suffix = $"_l{layer}{(direction == 1 ? "_reverse" : "")}";
                RegisterParameter("weight_ih" + suffix, cell.WeightIh);
                RegisterParameter("weight_hh" + suffix, cell.WeightHh);
                RegisterParameter("bias_ih" + suffix, cell.BiasIh);
                RegisterParameter("bias_hh" + suffix, cell.BiasHh);
                cells[layer][direction] = cell;
            }
        }
    }

    public RnnCellType CellType { get; }

    public long InputSize { get; }

    public long HiddenSize { get; }

    public int NumLayers { get; }

    public double Dropout { get; }

    /// <summary>2 for a bidirectional network, else 1.</summary>
    public int Directions { get; }

    /// <summary>
    /// Runs libtorch's fused kernels (at::rnn_tanh, at::lstm, at::gru) instead of the cells composed from
    /// primitives. Same equations and results to rounding; the composed path is the reference.
    /// </summary>
    public bool UseFusedKernels { get; set; }

    /// <summary>All-zero state for <paramref name="batchSize"/> sequences: h (and c) [D·L, B, H].</summary>
    public RnnState ZeroState(long batchSize, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        long[] shape = [Directions * NumLayers, batchSize, HiddenSize];
        return new(Tensor.Zeros(shape, dtype, device), CellType == RnnCellType.Lstm ? Tensor.Zeros(shape, dtype, device) : null);
    }

    /// <summary>
    /// x [B, T, in] → outputs of the top layer [B, T, D·H] and the final state, starting from
    /// <paramref name="state"/> (zeros when null).
    /// </summary>
    public (Tensor Output, RnnState State) Forward(Tensor x, RnnState? state = null)
    {
        if (x.Dim != 3 || x.Shape[2] != InputSize || x.Shape[1] < 1)
            throw new ArgumentException($"expected input [B, T ≥ 1, {InputSize}], got [{string.Join(", ", x.Shape)}]", nameof(x));
        state ??= ZeroState(x.Shape[0], x.DType, x.Device);
        long[] stateShape = [Directions * NumLayers, x.Shape[0], HiddenSize];
        if (!state.Hidden.Shape.SequenceEqual(stateShape) || (state.Cell is null) != (CellType != RnnCellType.Lstm)
            || (state.Cell is not null && !state.Cell.Shape.SequenceEqual(stateShape)))
            throw new ArgumentException(
                $"expected a state of h{(CellType == RnnCellType.Lstm ? " and c" : "")} [{string.Join(", ", stateShape)}] for this {CellType} and batch", nameof(state));
        return UseFusedKernels ? ForwardFused(x, state) : ForwardComposed(x, state);
    }

    private (Tensor Output, RnnState State) ForwardComposed(Tensor x, RnnState state)
    {
        var finals = new List<CellState>(Directions * NumLayers);
        var input = x;  // [B, T, in]
        for (var layer = 0; layer < NumLayers; layer++)
        {
            if (layer > 0 && Dropout > 0) input = Functional.Dropout(input, Dropout, Training);
            var outputs = new Tensor[Directions];
            for (var direction = 0; direction < Directions; direction++)
            {
                var (output, final) = cells[layer][direction].Scan(input, state.Layer(layer * Directions + direction), reverse: direction == 1);
                outputs[direction] = output;  // [B, T, H]
                finals.Add(final);
            }
            input = Directions == 1 ? outputs[0] : Tensor.Cat(outputs, dim: -1);  // [B, T, D·H]
        }
        return (input, RnnState.FromLayers(finals));
    }

    private (Tensor Output, RnnState State) ForwardFused(Tensor x, RnnState state)
    {
        var mode = CellType switch
        {
            RnnCellType.Elman => FusedRnnMode.RnnTanh,
            RnnCellType.Lstm => FusedRnnMode.Lstm,
            _ => FusedRnnMode.Gru,
        };
        var (output, h, c) = Tensor.FusedRnn(mode, x, state.Hidden, state.Cell, [.. Parameters()], NumLayers, Dropout, Training, Directions == 2);
        return (output, new RnnState(h, c));
    }
}

/// <summary>
/// The hidden state of an <see cref="Rnn"/> in PyTorch's layout: h [D·L, B, H], row k·D + d for layer k
/// and direction d, and the LSTM's memory cells c in the same layout (null for Elman and GRU).
/// </summary>
public sealed class RnnState(Tensor hidden, Tensor? cell = null) : IDisposable
{
    public Tensor Hidden { get; } = hidden;

    public Tensor? Cell { get; } = cell;

    /// <summary>
    /// The same values without autograd history: truncated BPTT carries the state into the next segment
    /// but backpropagates only within a segment.
    /// </summary>
    public RnnState Detach() => new(Hidden.Detach(), Cell?.Detach());

    /// <summary>Keeps the sequences named by <paramref name="rows"/> [B'] (Int64), in that order.</summary>
    public RnnState Select(Tensor rows) => new(Hidden.IndexSelect(1, rows), Cell?.IndexSelect(1, rows));

    /// <summary>Takes the tensors out of their dispose scope: the caller now disposes this state.</summary>
    public RnnState DetachFromDisposeScope()
    {
        Hidden.DetachFromDisposeScope();
        Cell?.DetachFromDisposeScope();
        return this;
    }

    /// <summary>Hands the tensors to the scope enclosing their own (a state that outlives a forward pass).</summary>
    public RnnState MoveToOuterDisposeScope()
    {
        Hidden.MoveToOuterDisposeScope();
        Cell?.MoveToOuterDisposeScope();
        return this;
    }

    public void Dispose()
    {
        Hidden.Dispose();
        Cell?.Dispose();
    }

    internal CellState Layer(int index) => new(Hidden.Select(0, index), Cell?.Select(0, index));

    internal static RnnState FromLayers(IReadOnlyList<CellState> layers) => new(
        Tensor.Stack([.. layers.Select(l => l.Hidden)]),
        layers[0].Cell is null ? null : Tensor.Stack([.. layers.Select(l => l.Cell!)]));
}
