using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Models;

/// <summary>The teacher-forced loss every neural family shares.</summary>
public static class NextTokenLoss
{
    /// <summary>Mean cross-entropy of <paramref name="model"/>'s logits [B, T, V] against <paramref name="targets"/> [B, T].</summary>
    public static Tensor Of(ILanguageModel model, Tensor tokens, Tensor targets)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(targets);
        if (!targets.Shape.SequenceEqual(tokens.Shape))
            throw new ArgumentException($"targets have shape [{string.Join(", ", targets.Shape)}], the tokens [{string.Join(", ", tokens.Shape)}]", nameof(targets));
        using var scope = DisposeScope.Enter();
        return FromLogits(model.Forward(tokens), targets).MoveToOuterDisposeScope();
    }

    /// <summary>Mean cross-entropy of <paramref name="logits"/> [B, T, V] against <paramref name="targets"/> [B, T].</summary>
    public static Tensor FromLogits(Tensor logits, Tensor targets)
    {
        using var scope = DisposeScope.Enter();
        return Functional.CrossEntropy(logits.Reshape(-1, logits.Shape[^1]), targets.Reshape(-1)).MoveToOuterDisposeScope();
    }
}
