namespace OrleansLm.Cli.Scaling.Plot;

/// <summary>A point in canvas pixels: x to the right, y down from the top-left corner.</summary>
public readonly record struct Point(double X, double Y);

/// <summary>An outline: its colour and width in pixels.</summary>
public sealed record Stroke(Colour Colour, double Width);

/// <summary>
/// What a figure is drawn with: lines, circles, rectangles and text, in pixels. <see cref="SvgCanvas"/> writes them as
/// SVG elements, <see cref="RasterCanvas"/> paints them anti-aliased into pixels for a PNG. Every call takes the role
/// of the shape in the figure ("axis", "point", "fit", ...), which the SVG keeps as the element's class, so a reader
/// (or a test) can tell the parts apart.
/// </summary>
public interface ICanvas
{
    int Width { get; }

    int Height { get; }

    void Rectangle(Point corner, double width, double height, Colour? fill, Stroke? stroke, string role);

    void Line(Point from, Point to, Stroke stroke, string role);

    void Circle(Point centre, double radius, Colour? fill, Stroke? stroke, string role);

    /// <summary>Sets <paramref name="text"/> with its baseline through <paramref name="anchor"/>, placed along it as the style's anchor says.</summary>
    void Text(Point anchor, Label text, TextStyle style, string role);
}
