namespace OrleansLm.GatewayBench;

/// <summary>What the benchmark asks of the served model: the name it is served under and the sizes of the requests.</summary>
internal static class Workload
{
    public const string ModelName = "gwbench";

    /// <summary>Generate: a prompt of this many characters (tokens, character level) …</summary>
    public const int PromptChars = 16;

    /// <summary>… continued by this many sampled tokens at <see cref="SampledTemperature"/>.</summary>
    public const int GeneratedTokens = 32;

    public const double SampledTemperature = 0.8;

    /// <summary>The longer of the two greedy generations the gateway's overhead is measured on (the shorter: one token).</summary>
    public const int OverheadTokens = 8;

    /// <summary>Score: a text of this many characters.</summary>
    public const int ScoredChars = 64;

    /// <summary>The long context: GenerateStream and the KV cache comparison continue a prompt this long …</summary>
    public const int ContextChars = 256;

    /// <summary>… by this many greedy tokens.</summary>
    public const int StreamedTokens = 64;
}
