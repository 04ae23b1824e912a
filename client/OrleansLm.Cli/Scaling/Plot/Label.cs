using System.Globalization;

namespace OrleansLm.Cli.Scaling.Plot;

/// <summary>A piece of a label: text on the baseline, or raised and smaller (an exponent).</summary>
public sealed record LabelSpan(string Text, bool Superscript);

/// <summary>One line of text made of spans, so that both backends can typeset exponents: 10⁶ is "10" then a raised "6".</summary>
public sealed record Label(IReadOnlyList<LabelSpan> Spans)
{
    public Label(string text) : this([new LabelSpan(text, Superscript: false)])
    {
    }

    public Label Then(string text) => new([.. Spans, new LabelSpan(text, Superscript: false)]);

    public Label ThenSuperscript(string text) => new([.. Spans, new LabelSpan(text, Superscript: true)]);

    /// <summary>10 raised to <paramref name="exponent"/>, after <paramref name="mantissa"/> and '×' when there is one.</summary>
    public static Label Power(int exponent, string? mantissa = null) =>
        new Label(mantissa is null ? "10" : mantissa + "×10").ThenSuperscript(Typeset(exponent.ToString(CultureInfo.InvariantCulture)));

    /// <summary>A number as typeset: with the minus sign (U+2212), not the hyphen.</summary>
    public static string Typeset(string number) => number.Replace('-', '−');
}
