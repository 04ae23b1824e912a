namespace OrleansLm.Cli.Scaling.Plot;

/// <summary>
/// A small bitmap font of our own for the PNG backend. Text is set in <see cref="Regular"/> glyphs, 5 dots wide and 9
/// tall: printable ASCII and × − ·; rows 0-6 stand on the baseline (a capital is 7 dots tall), rows 7-8 hang below it
/// (g, j, p, q, y, the comma's tail). Exponents are set in <see cref="Superscript"/> glyphs, 3 × 5 dots, digits and
/// signs, raised 4 dots. A text of scale s draws each dot as an s × s pixel square.
/// </summary>
public static class BitmapFont
{
    /// <summary>Dots per em: an SVG viewer sets the text in a monospace font this many dots high (its advance is 0.6 em = 6 dots).</summary>
    public const int EmDots = 10;

    /// <summary>How far up a superscript's baseline sits, in dots.</summary>
    public const int SuperscriptRise = 4;

    // Each block: a line naming its glyphs, one every 6 columns, then the glyphs' 9 rows side by side ('#' is a dot).
    private const string Glyphs = """
        A     B     C     D     E     F     G     H     I     J
        .###. ####. .###. ###.. ##### ##### .###. #...# .###. ..###
        #...# #...# #...# #..#. #.... #.... #...# #...# ..#.. ...#.
        #...# #...# #.... #...# #.... #.... #.... #...# ..#.. ...#.
        ##### ####. #.... #...# ####. ####. #.### ##### ..#.. ...#.
        #...# #...# #.... #...# #.... #.... #...# #...# ..#.. ...#.
        #...# #...# #...# #..#. #.... #.... #...# #...# ..#.. #..#.
        #...# ####. .###. ###.. ##### #.... .#### #...# .###. .##..
        ..... ..... ..... ..... ..... ..... ..... ..... ..... .....
        ..... ..... ..... ..... ..... ..... ..... ..... ..... .....

        K     L     M     N     O     P     Q     R     S     T
        #...# #.... #...# #...# .###. ####. .###. ####. .#### #####
        #..#. #.... ##.## #...# #...# #...# #...# #...# #.... ..#..
        #.#.. #.... #.#.# ##..# #...# #...# #...# #...# #.... ..#..
        ##... #.... #.#.# #.#.# #...# ####. #...# ####. .###. ..#..
        #.#.. #.... #...# #..## #...# #.... #.#.# #.#.. ....# ..#..
        #..#. #.... #...# #...# #...# #.... #..#. #..#. ....# ..#..
        #...# ##### #...# #...# .###. #.... .##.# #...# ####. ..#..
        ..... ..... ..... ..... ..... ..... ..... ..... ..... .....
        ..... ..... ..... ..... ..... ..... ..... ..... ..... .....

        U     V     W     X     Y     Z     a     b     c     d
        #...# #...# #...# #...# #...# ##### ..... #.... ..... ....#
        #...# #...# #...# #...# #...# ....# ..... #.... ..... ....#
        #...# #...# #...# .#.#. .#.#. ...#. .###. ####. .###. .####
        #...# #...# #.#.# ..#.. ..#.. ..#.. ....# #...# #.... #...#
        #...# #...# #.#.# .#.#. ..#.. .#... .#### #...# #.... #...#
        #...# .#.#. #.#.# #...# ..#.. #.... #...# #...# #...# #...#
        .###. ..#.. .#.#. #...# ..#.. ##### .#### ####. .###. .####
        ..... ..... ..... ..... ..... ..... ..... ..... ..... .....
        ..... ..... ..... ..... ..... ..... ..... ..... ..... .....

        e     f     g     h     i     j     k     l     m     n
        ..... ..##. ..... #.... ..#.. ...#. #.... .##.. ..... .....
        ..... .#..# ..... #.... ..... ..... #.... ..#.. ..... .....
        .###. .#... .#### #.##. .##.. ..##. #..#. ..#.. ##.#. #.##.
        #...# ###.. #...# ##..# ..#.. ...#. #.#.. ..#.. #.#.# ##..#
        ##### .#... #...# #...# ..#.. ...#. ##... ..#.. #.#.# #...#
        #.... .#... #...# #...# ..#.. ...#. #.#.. ..#.. #.#.# #...#
        .###. .#... .#### #...# .###. ...#. #..#. .###. #...# #...#
        ..... ..... ....# ..... ..... #..#. ..... ..... ..... .....
        ..... ..... .###. ..... ..... .##.. ..... ..... ..... .....

        o     p     q     r     s     t     u     v     w     x
        ..... ..... ..... ..... ..... .#... ..... ..... ..... .....
        ..... ..... ..... ..... ..... .#... ..... ..... ..... .....
        .###. ####. .#### #.##. .#### ###.. #...# #...# #...# #...#
        #...# #...# #...# ##..# #.... .#... #...# #...# #...# .#.#.
        #...# #...# #...# #.... .###. .#... #...# #...# #.#.# ..#..
        #...# #...# #...# #.... ....# .#..# #..## .#.#. #.#.# .#.#.
        .###. ####. .#### #.... ####. ..##. .##.# ..#.. .#.#. #...#
        ..... #.... ....# ..... ..... ..... ..... ..... ..... .....
        ..... #.... ....# ..... ..... ..... ..... ..... ..... .....

        y     z     0     1     2     3     4     5     6     7
        ..... ..... .###. ..#.. .###. ##### ...#. ##### ..##. #####
        ..... ..... #...# .##.. #...# ...#. ..##. #.... .#... ....#
        #...# ##### #..## ..#.. ....# ..#.. .#.#. ####. #.... ...#.
        #...# ...#. #.#.# ..#.. ...#. ...#. #..#. ....# ####. ..#..
        #...# ..#.. ##..# ..#.. ..#.. ....# ##### ....# #...# .#...
        #...# .#... #...# ..#.. .#... #...# ...#. #...# #...# .#...
        .#### ##### .###. .###. ##### .###. ...#. .###. .###. .#...
        ....# ..... ..... ..... ..... ..... ..... ..... ..... .....
        .###. ..... ..... ..... ..... ..... ..... ..... ..... .....

        8     9     .     ,     :     ;     !     ?     '     "
        .###. .###. ..... ..... ..... ..... ..#.. .###. ..#.. .#.#.
        #...# #...# ..... ..... .##.. .##.. ..#.. #...# ..#.. .#.#.
        #...# #...# ..... ..... .##.. .##.. ..#.. ....# .#... .#.#.
        .###. .#### ..... ..... ..... ..... ..#.. ...#. ..... .....
        #...# ....# ..... ..... .##.. .##.. ..#.. ..#.. ..... .....
        #...# ...#. .##.. .##.. .##.. .##.. ..... ..... ..... .....
        .###. .##.. .##.. .##.. ..... ..#.. ..#.. ..#.. ..... .....
        ..... ..... ..... ..#.. ..... .#... ..... ..... ..... .....
        ..... ..... ..... .#... ..... ..... ..... ..... ..... .....

        `     (     )     [     ]     {     }     <     >     /
        .#... ...#. .#... .###. .###. ...## ##... ...#. .#... ....#
        ..#.. ..#.. ..#.. .#... ...#. ..#.. ..#.. ..#.. ..#.. ....#
        ..... .#... ...#. .#... ...#. ..#.. ..#.. .#... ...#. ...#.
        ..... .#... ...#. .#... ...#. .#... ...#. #.... ....# ..#..
        ..... .#... ...#. .#... ...#. ..#.. ..#.. .#... ...#. .#...
        ..... ..#.. ..#.. .#... ...#. ..#.. ..#.. ..#.. ..#.. #....
        ..... ...#. .#... .###. .###. ...## ##... ...#. .#... #....
        ..... ..... ..... ..... ..... ..... ..... ..... ..... .....
        ..... ..... ..... ..... ..... ..... ..... ..... ..... .....

        \     |     -     +     =     _     *     ^     ~     #
        #.... ..#.. ..... ..... ..... ..... ..... ..#.. ..... .#.#.
        #.... ..#.. ..... ..#.. ..... ..... ..#.. .#.#. ..... .#.#.
        .#... ..#.. ..... ..#.. ##### ..... #.#.# #...# .#... #####
        ..#.. ..#.. .###. ##### ..... ..... .###. ..... #.#.# .#.#.
        ...#. ..#.. ..... ..#.. ##### ..... #.#.# ..... ...#. #####
        ....# ..#.. ..... ..#.. ..... ..... ..#.. ..... ..... .#.#.
        ....# ..#.. ..... ..... ..... ..... ..... ..... ..... .#.#.
        ..... ..... ..... ..... ..... ##### ..... ..... ..... .....
        ..... ..... ..... ..... ..... ..... ..... ..... ..... .....

        %     &     $     @     ×     −     ·
        ##... .##.. ..#.. .###. ..... ..... .....
        ##..# #..#. .#### #...# #...# ..... .....
        ...#. #.#.. #.#.. #.### .#.#. ..... .....
        ..#.. .#... .###. #.#.# ..#.. ##### .##..
        .#... #.#.# ..#.# #.### .#.#. ..... .##..
        #..## #..#. ####. #.... #...# ..... .....
        ...## .##.# ..#.. .###. ..... ..... .....
        ..... ..... ..... ..... ..... ..... .....
        ..... ..... ..... ..... ..... ..... .....
        """;

    // The same layout, 4 columns apart and 5 rows.
    private const string SuperscriptGlyphs = """
        0   1   2   3   4   5   6   7   8   9
        ### .#. ### ### #.# ### ### ### ### ###
        #.# ##. ..# ..# #.# #.. #.. ..# #.# #.#
        #.# .#. ### .## ### ### ### ..# ### ###
        #.# .#. #.. ..# ..# ..# #.# .#. #.# ..#
        ### ### ### ### ..# ### ### .#. ### ###

        −   -   +   .   e
        ... ... ... ... ...
        ... ... .#. ... ###
        ### ### ### ... ###
        ... ... .#. ... #..
        ... ... ... .#. ###
        """;

    /// <summary>The glyphs of text on the baseline.</summary>
    public static readonly Face Regular = new(Glyphs, width: 5, height: 9, ascent: 7, advance: 6);

    /// <summary>The glyphs of exponents.</summary>
    public static readonly Face Superscript = new(SuperscriptGlyphs, width: 3, height: 5, ascent: 5, advance: 4);

    /// <summary>The width in pixels of <paramref name="text"/> set at <paramref name="scale"/>: the sum of its characters' advances.</summary>
    public static double Width(Label text, int scale) =>
        text.Spans.Sum(span => span.Text.Length * (span.Superscript ? Superscript : Regular).Advance * scale);

    /// <summary>A set of glyphs of one size.</summary>
    public sealed class Face
    {
        private readonly Dictionary<char, bool[,]> glyphs = [];
        private readonly bool[,] missing;

        /// <param name="blocks">Blocks of glyphs: a line naming them, one every <paramref name="advance"/> columns, then their rows side by side.</param>
        /// <param name="ascent">Rows above the baseline; the rest hang below it.</param>
        public Face(string blocks, int width, int height, int ascent, int advance)
        {
            (Width, Height, Ascent, Advance) = (width, height, ascent, advance);
            var lines = blocks.Split('\n');
            for (var start = 0; start < lines.Length; start += height + 2)
            {
                var names = lines[start];
                for (var i = 0; i * advance < names.Length; i++)
                {
                    var glyph = new bool[height, width];
                    for (var row = 0; row < height; row++)
                    for (var column = 0; column < width; column++)
                        glyph[row, column] = lines[start + 1 + row][i * advance + column] == '#';
                    glyphs.Add(names[i * advance], glyph);
                }
            }
            // For a character the face lacks: an empty box as tall as the ascent.
            missing = new bool[height, width];
            for (var row = 0; row < ascent; row++)
            for (var column = 0; column < width; column++)
                missing[row, column] = row is 0 || row == ascent - 1 || column is 0 || column == width - 1;
        }

        public int Width { get; }

        public int Height { get; }

        public int Ascent { get; }

        public int Advance { get; }

        /// <summary>The dots of <paramref name="character"/>: [row, column], row 0 at the top.</summary>
        public bool[,] Glyph(char character) => character == ' ' ? new bool[Height, Width] : glyphs.GetValueOrDefault(character) ?? missing;
    }
}
