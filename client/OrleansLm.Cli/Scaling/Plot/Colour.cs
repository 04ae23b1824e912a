using System.Globalization;

namespace OrleansLm.Cli.Scaling.Plot;

/// <summary>An sRGB colour with an opacity in [0, 1].</summary>
public readonly record struct Colour(byte R, byte G, byte B, double Opacity = 1)
{
    public static readonly Colour White = new(255, 255, 255);
    public static readonly Colour Black = new(0, 0, 0);

    /// <summary>#rrggbb, as SVG writes it (the opacity goes in its own attribute).</summary>
    public string Hex => $"#{R:x2}{G:x2}{B:x2}";

    /// <summary>Parses #rrggbb.</summary>
    public static Colour FromHex(string hex, double opacity = 1)
    {
        if (hex.Length != 7 || hex[0] != '#' || !uint.TryParse(hex.AsSpan(1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var rgb))
            throw new ArgumentException($"'{hex}' is not a #rrggbb colour", nameof(hex));
        return new Colour((byte)(rgb >> 16), (byte)(rgb >> 8), (byte)rgb, opacity);
    }
}
