namespace OrleansLm.Cli.Scaling.Plot;

public enum TextAnchor { Start, Middle, End }

/// <summary>How a label is set.</summary>
/// <param name="Scale">
/// The size: the font's dots are <paramref name="Scale"/> pixels square, so a capital is 7·Scale pixels tall and every
/// character advances 6·Scale pixels (<see cref="BitmapFont"/>); an SVG viewer sets it in a monospace font of
/// <see cref="BitmapFont.EmDots"/>·Scale pixels, which has the same advance.
/// </param>
/// <param name="Vertical">Turned a quarter anticlockwise, reading upwards (a y-axis title); the anchor is then on the vertical.</param>
public sealed record TextStyle(int Scale, Colour Colour, TextAnchor Anchor = TextAnchor.Start, bool Vertical = false);
