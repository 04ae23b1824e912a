namespace OrleansLm.Model.Decoding;

/// <summary>
/// How <see cref="Generator"/> picks tokens. The filters apply in Hugging Face's order: repetition penalty,
/// then temperature, then top-k, then top-p. Every property checks its value when set.
/// </summary>
public sealed record SamplingOptions
{
    /// <summary>Tokens to generate at most (the prompt does not count).</summary>
    public int MaxNewTokens
    {
        get;
        init => field = Checked.AtLeast(value, 1, nameof(MaxNewTokens));
    } = 64;

    /// <summary>Divides the logits; 0 means greedy (argmax), 1 samples from the model's own distribution.</summary>
    public double Temperature
    {
        get;
        init => field = Checked.Finite(value, nameof(Temperature)) >= 0 ? value
            : throw new ArgumentOutOfRangeException(nameof(Temperature), value, "temperature must be ≥ 0 (0 = greedy)");
    } = 1;

    /// <summary>Keeps the k most likely tokens; 0 keeps all.</summary>
    public int TopK
    {
        get;
        init => field = Checked.AtLeast(value, 0, nameof(TopK));
    }

    /// <summary>Nucleus sampling: keeps the smallest set of most likely tokens whose mass is ≥ p; 1 keeps all.</summary>
    public double TopP
    {
        get;
        init => field = Checked.Finite(value, nameof(TopP)) is > 0 and <= 1 ? value
            : throw new ArgumentOutOfRangeException(nameof(TopP), value, "top_p must lie in (0, 1]");
    } = 1;

    /// <summary>
    /// CTRL's penalty (Keskar et al. 2019) on tokens already in the sequence, prompt included as in Hugging Face:
    /// a positive logit is divided by it, a negative one multiplied. 1 turns it off; above 1 discourages repeats.
    /// </summary>
    public double RepetitionPenalty
    {
        get;
        init => field = Checked.Finite(value, nameof(RepetitionPenalty)) > 0 ? value
            : throw new ArgumentOutOfRangeException(nameof(RepetitionPenalty), value, "repetition penalty must be > 0 (1 = off)");
    } = 1;

    /// <summary>
    /// Token sequences that end generation when the generated tokens end with one; the stop sequence itself is
    /// left out of the output.
    /// </summary>
    public IReadOnlyList<IReadOnlyList<int>> StopSequences
    {
        get;
        init => field = value is null ? throw new ArgumentNullException(nameof(StopSequences))
            : value.Any(s => s is null || s.Count == 0)
                ? throw new ArgumentException("stop sequences must be non-empty", nameof(StopSequences))
                : value;
    } = [];

    /// <summary>
    /// Seeds this generation's own random source: the same seed, model and options give the same samples, whatever
    /// else the process draws meanwhile. Null draws a fresh seed.
    /// </summary>
    public int? Seed { get; init; }

    /// <summary>Independent samples to draw from the same prompt (decoded together as one batch).</summary>
    public int NumSamples
    {
        get;
        init => field = Checked.AtLeast(value, 1, nameof(NumSamples));
    } = 1;

    public bool IsGreedy => Temperature == 0;
}

internal static class Checked
{
    public static int AtLeast(int value, int minimum, string name) =>
        value >= minimum ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must be ≥ {minimum}");

    public static double Finite(double value, string name) =>
        double.IsFinite(value) ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must be a finite number");

    /// <summary>Checks token ids against the vocabulary and a minimum length.</summary>
    public static IReadOnlyList<int> Tokens(IReadOnlyList<int> tokens, int vocabularySize, int minimumLength, string name)
    {
        ArgumentNullException.ThrowIfNull(tokens, name);
        if (tokens.Count < minimumLength)
            throw new ArgumentException($"{name} needs at least {minimumLength} token(s), it has {tokens.Count}", name);
        for (var i = 0; i < tokens.Count; i++)
            if ((uint)tokens[i] >= (uint)vocabularySize)
                throw new ArgumentException($"{name}[{i}] = {tokens[i]} is outside the vocabulary [0, {vocabularySize})", name);
        return tokens;
    }
}
