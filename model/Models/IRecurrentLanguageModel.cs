using OrleansLm.Model.Nn;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Models;

/// <summary>A language model with a hidden state that a trainer can carry across consecutive segments (truncated BPTT).</summary>
public interface IRecurrentLanguageModel : ILanguageModel
{
    /// <summary>Logits [B, T, V] for tokens [B, T], starting from <paramref name="state"/> (zeros when null), and the state after the last token.</summary>
    (Tensor Logits, RnnState State) Forward(Tensor tokens, RnnState? state);
}
