using System.Globalization;
using System.Xml.Linq;
using OrleansLm.Model.IO;

namespace OrleansLm.Cli.Scaling.Plot;

/// <summary>Writes the figure as SVG: one element per call, its role as the element's class.</summary>
public sealed class SvgCanvas : ICanvas
{
    public static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    /// <summary>A superscript's font size, in ems of the text: its glyphs are 5 dots tall where a capital is 7.</summary>
    private const double SuperscriptSize = 0.7;

    private readonly XElement root;

    public SvgCanvas(int width, int height, Colour background)
    {
        Width = width;
        Height = height;
        root = new XElement(Svg + "svg",
            new XAttribute("width", width), new XAttribute("height", height), new XAttribute("viewBox", $"0 0 {width} {height}"),
            new XAttribute(XNamespace.Xml + "space", "preserve"));
        Rectangle(new Point(0, 0), width, height, background, null, "background");
    }

    public int Width { get; }

    public int Height { get; }

    public void Rectangle(Point corner, double width, double height, Colour? fill, Stroke? stroke, string role) =>
        Add(new XElement(Svg + "rect", Number("x", corner.X), Number("y", corner.Y), Number("width", width), Number("height", height)), fill, stroke, role);

    public void Line(Point from, Point to, Stroke stroke, string role) =>
        Add(new XElement(Svg + "line", Number("x1", from.X), Number("y1", from.Y), Number("x2", to.X), Number("y2", to.Y),
            new XAttribute("stroke-linecap", "round")), null, stroke, role);

    public void Circle(Point centre, double radius, Colour? fill, Stroke? stroke, string role) =>
        Add(new XElement(Svg + "circle", Number("cx", centre.X), Number("cy", centre.Y), Number("r", radius)), fill, stroke, role);

    public void Text(Point anchor, Label text, TextStyle style, string role)
    {
        var element = new XElement(Svg + "text", Number("x", anchor.X), Number("y", anchor.Y),
            new XAttribute("font-family", "DejaVu Sans Mono, monospace"), Number("font-size", style.Scale * BitmapFont.EmDots),
            new XAttribute("text-anchor", style.Anchor switch { TextAnchor.Middle => "middle", TextAnchor.End => "end", _ => "start" }));
        if (style.Vertical) element.Add(new XAttribute("transform", $"rotate(-90 {Format(anchor.X)} {Format(anchor.Y)})"));
        var rise = BitmapFont.SuperscriptRise * style.Scale;
        var raised = false;
        foreach (var span in text.Spans)
        {
            // dy moves the baseline for this span and every one after it, so a raised span's successor comes back down.
            var shift = span.Superscript == raised ? 0 : span.Superscript ? -rise : rise;
            raised = span.Superscript;
            var piece = new XElement(Svg + "tspan", span.Text);
            if (shift != 0) piece.Add(Number("dy", shift));
            if (span.Superscript) piece.Add(Number("font-size", style.Scale * BitmapFont.EmDots * SuperscriptSize));
            element.Add(piece);
        }
        Add(element, style.Colour, null, role);
    }

    /// <summary>
    /// The SVG, one element a line. Not XML's indentation, which would put line breaks between a text's tspans, and
    /// under xml:space="preserve" (kept so labels keep their spaces) those would show as spaces.
    /// </summary>
    public override string ToString()
    {
        var document = new XElement(root);
        document.Add(new XText("\n"));
        return new XDeclaration("1.0", "utf-8", null) + "\n" + document.ToString(SaveOptions.DisableFormatting);
    }

    /// <summary>Writes the SVG to <paramref name="path"/> atomically.</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, ToString() + "\n");

    private void Add(XElement element, Colour? fill, Stroke? stroke, string role)
    {
        element.Add(new XAttribute("class", role), new XAttribute("fill", fill?.Hex ?? "none"));
        if (fill is { Opacity: < 1 } translucent) element.Add(Number("fill-opacity", translucent.Opacity));
        if (stroke is not null)
        {
            element.Add(new XAttribute("stroke", stroke.Colour.Hex), Number("stroke-width", stroke.Width));
            if (stroke.Colour.Opacity < 1) element.Add(Number("stroke-opacity", stroke.Colour.Opacity));
        }
        root.Add(new XText("\n"), element);
    }

    private static XAttribute Number(string name, double value) => new(name, Format(value));

    private static string Format(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);
}
