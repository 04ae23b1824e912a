using System.Text;
using System.Text.RegularExpressions;

namespace OrleansLm.Integration.Tests.Deployment;

/// <summary>
/// A .dockerignore as Docker's builder applies it to the build context, written from its documentation: one pattern a
/// line, lines starting with '#' are comments; a pattern is cleaned like Go's filepath.Clean (no leading or trailing
/// '/', no '.' segments) and matched as Go's filepath.Match does ('*' and '?' stop at '/', '[...]' classes, '\'
/// escapes), plus '**' for any number of directories, zero included. A path is excluded when a pattern matches it or
/// one of its parent directories; a pattern starting with '!' re-includes; the last pattern that matches decides.
/// </summary>
public sealed class DockerIgnore
{
    private readonly IReadOnlyList<(string Pattern, Regex Match, bool Reinclude)> rules;

    private DockerIgnore(IReadOnlyList<(string, Regex, bool)> rules) => this.rules = rules;

    public static DockerIgnore Parse(string text)
    {
        var rules = new List<(string, Regex, bool)>();
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith('#')) continue;
            var pattern = line.Trim();
            var reinclude = pattern.StartsWith('!');
            if (reinclude) pattern = pattern[1..].Trim();
            pattern = Clean(pattern);
            if (pattern.Length == 0) continue;
            rules.Add((line.Trim(), Compile(pattern), reinclude));
        }
        return new DockerIgnore(rules);
    }

    /// <summary>The .dockerignore of the context directory <paramref name="context"/>; none excludes nothing.</summary>
    public static DockerIgnore Load(string context)
    {
        var path = Path.Combine(context, ".dockerignore");
        return Parse(File.Exists(path) ? File.ReadAllText(path) : "");
    }

    /// <summary>Whether the build context leaves out <paramref name="path"/>, '/'-separated and relative to the context.</summary>
    public bool Excludes(string path) => DecidingPattern(path) is { Reinclude: false };

    /// <summary>The pattern that decides <paramref name="path"/>'s fate (as written, '!' included), null when none matches it.</summary>
    public string? Why(string path) => DecidingPattern(path)?.Pattern;

    private (string Pattern, Regex Match, bool Reinclude)? DecidingPattern(string path)
    {
        var cleaned = Clean(path);
        var segments = cleaned.Split('/');
        var candidates = Enumerable.Range(1, segments.Length).Select(count => string.Join('/', segments[..count])).ToList();
        return rules.LastOrDefault(rule => candidates.Any(rule.Match.IsMatch)) is { Pattern: not null } found ? found : null;
    }

    private static string Clean(string path)
    {
        var segments = new List<string>();
        foreach (var segment in path.Split('/'))
        {
            if (segment is "" or ".") continue;
            if (segment == ".." && segments.Count > 0 && segments[^1] != "..") segments.RemoveAt(segments.Count - 1);
            else segments.Add(segment);
        }
        return string.Join('/', segments);
    }

    private static Regex Compile(string pattern)
    {
        var regex = new StringBuilder("^");
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (c == '*' && i + 1 < pattern.Length && pattern[i + 1] == '*')
            {
                i++;
                if (i + 1 < pattern.Length && pattern[i + 1] == '/') i++;
                // Trailing: anything below; elsewhere: any number of whole directories, zero included.
                regex.Append(i + 1 == pattern.Length ? ".*" : "(.*/)?");
            }
            else if (c == '*') regex.Append("[^/]*");
            else if (c == '?') regex.Append("[^/]");
            else if (c == '\\' && i + 1 < pattern.Length) regex.Append(Regex.Escape(pattern[++i].ToString()));
            else if (c == '[')
            {
                var close = pattern.IndexOf(']', i + 2);
                if (close < 0) throw new FormatException($".dockerignore pattern '{pattern}': unterminated character class");
                var members = pattern[(i + 1)..close];
                regex.Append('[').Append(members.StartsWith('^') ? "^" + Regex.Escape(members[1..]) : Regex.Escape(members)).Append(']');
                i = close;
            }
            else regex.Append(Regex.Escape(c.ToString()));
        }
        return new Regex(regex.Append('$').ToString(), RegexOptions.CultureInvariant);
    }
}
