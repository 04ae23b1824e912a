using OrleansLm.Model.Nn;

namespace OrleansLm.Model.Models;

/// <summary>Settings shared by the recurrent families: token embedding → stacked Elman/LSTM/GRU layers.</summary>
public abstract record RecurrentConfig
{
    public required int VocabularySize { get; init; }

    /// <summary>"elman", "lstm" or "gru".</summary>
    public string Cell { get; init; } = "lstm";

    public int EmbeddingSize { get; init; } = 64;

    public int HiddenSize { get; init; } = 128;

    public int NumLayers { get; init; } = 1;

    /// <summary>Dropout on the outputs of every recurrent layer but the last (none with one layer), as nn.LSTM's.</summary>
    public double Dropout { get; init; }

    /// <summary>Run libtorch's fused kernels instead of the cells composed from primitives (same results to rounding).</summary>
    public bool UseFusedKernels { get; init; }

    public RnnCellType CellType => RnnCellTypes.Parse(Cell, nameof(Cell), GetType().Name);

    public virtual void Validate()
    {
        var config = GetType().Name;
        ModelChecks.AtLeast(VocabularySize, 1, config, nameof(VocabularySize));
        ModelChecks.AtLeast(EmbeddingSize, 1, config, nameof(EmbeddingSize));
        ModelChecks.AtLeast(HiddenSize, 1, config, nameof(HiddenSize));
        ModelChecks.AtLeast(NumLayers, 1, config, nameof(NumLayers));
        ModelChecks.Probability(Dropout, config, nameof(Dropout));
        _ = CellType;
    }

    internal Rnn CreateRnn(bool bidirectional) =>
        new(CellType, EmbeddingSize, HiddenSize, NumLayers, Dropout, bidirectional) { UseFusedKernels = UseFusedKernels };
}
