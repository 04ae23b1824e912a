using System.Text;
using System.Text.RegularExpressions;

namespace OrleansLm.Integration.Tests.Deployment;

/// <summary>One stage of a Dockerfile: <c>FROM image [AS name]</c> and the instructions after it.</summary>
public sealed record DockerfileStage(int Index, string From, string? Name, IReadOnlyList<DockerfileInstruction> Instructions)
{
    public override string ToString() => Name ?? $"stage {Index}";
}

/// <summary>
/// A Dockerfile read as the builder reads it: comments and parser directives dropped, continuation lines joined, the
/// global ARGs before the first FROM, and the stages. <see cref="Image"/> resolves what a target stage builds.
/// </summary>
public sealed partial class Dockerfile
{
    private Dockerfile(IReadOnlyDictionary<string, string> globalArguments, IReadOnlyList<DockerfileStage> stages)
    {
        GlobalArguments = globalArguments;
        Stages = stages;
    }

    /// <summary>The ARGs before the first FROM, with their defaults ("" for none); only FROM lines see them.</summary>
    public IReadOnlyDictionary<string, string> GlobalArguments { get; }

    public IReadOnlyList<DockerfileStage> Stages { get; }

    public static Dockerfile Load(string path) => Parse(File.ReadAllText(path));

    public static Dockerfile Parse(string text)
    {
        var globalArguments = new Dictionary<string, string>(StringComparer.Ordinal);
        var stages = new List<DockerfileStage>();
        DockerfileInstruction? from = null;
        var instructions = new List<DockerfileInstruction>();
        foreach (var instruction in Instructions(text))
        {
            if (instruction.Keyword == "FROM")
            {
                if (from is not null) stages.Add(Stage(stages.Count, from, instructions));
                from = instruction;
                instructions = [];
            }
            else if (from is not null)
            {
                instructions.Add(instruction);
            }
            else if (instruction.Keyword == "ARG")
            {
                var (name, value) = Assignment(instruction.Words.Single());
                globalArguments[name] = value ?? "";
            }
            else
            {
                throw new FormatException($"{instruction}: only ARG may come before the first FROM");
            }
        }
        if (from is null) throw new FormatException("no FROM instruction");
        stages.Add(Stage(stages.Count, from, instructions));
        return new Dockerfile(globalArguments, stages);
    }

    /// <summary>The stage named <paramref name="name"/> (names are case-insensitive).</summary>
    public DockerfileStage Stage(string name) =>
        Stages.SingleOrDefault(stage => string.Equals(stage.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new KeyNotFoundException($"the Dockerfile has no stage {name}; it has {string.Join(", ", Stages)}");

    /// <summary>
    /// The image <c>docker build --target <paramref name="target"/></c> builds with <paramref name="buildArguments"/>
    /// overriding the global ARGs' defaults: the chain of stages from the one whose FROM names an outside image.
    /// </summary>
    public ContainerImage Image(string target, IReadOnlyDictionary<string, string>? buildArguments = null)
    {
        var arguments = new Dictionary<string, string>(GlobalArguments, StringComparer.Ordinal);
        foreach (var (name, value) in buildArguments ?? new Dictionary<string, string>())
        {
            if (!GlobalArguments.ContainsKey(name)) throw new ArgumentException($"the Dockerfile declares no global ARG {name}", nameof(buildArguments));
            arguments[name] = value;
        }
        var chain = new List<DockerfileStage>();
        var stage = Stage(target);
        while (true)
        {
            chain.Insert(0, stage);
            var from = Substitute(stage.From, arguments);
            var parent = Stages.Take(stage.Index).LastOrDefault(earlier => string.Equals(earlier.Name, from, StringComparison.OrdinalIgnoreCase));
            if (parent is null) return new ContainerImage(this, from, chain, arguments);
            stage = parent;
        }
    }

    /// <summary>
    /// Expands <c>$NAME</c>, <c>${NAME}</c>, <c>${NAME:-default}</c> and <c>${NAME:+alternative}</c> from
    /// <paramref name="variables"/>, as the builder does in FROM, ENV, WORKDIR, USER, COPY and the like.
    /// </summary>
    public static string Substitute(string text, IReadOnlyDictionary<string, string> variables) =>
        VariablePattern().Replace(text, match =>
        {
            var name = match.Groups["braced"].Success ? match.Groups["braced"].Value : match.Groups["bare"].Value;
            var value = variables.TryGetValue(name, out var set) ? set : null;
            return match.Groups["operator"].Value switch
            {
                ":-" => string.IsNullOrEmpty(value) ? match.Groups["word"].Value : value,
                ":+" => string.IsNullOrEmpty(value) ? "" : match.Groups["word"].Value,
                _ => value ?? "",
            };
        });

    /// <summary>NAME=value of an ARG or of one ENV pair, a word with its quotes already removed; the value null without '='.</summary>
    public static (string Name, string? Value) Assignment(string word)
    {
        var equals = word.IndexOf('=');
        return equals < 0 ? (word, null) : (word[..equals], word[(equals + 1)..]);
    }

    private static DockerfileStage Stage(int index, DockerfileInstruction from, IReadOnlyList<DockerfileInstruction> instructions)
    {
        var words = from.Words;
        return words.Count switch
        {
            1 => new DockerfileStage(index, words[0], null, instructions),
            3 when words[1].Equals("AS", StringComparison.OrdinalIgnoreCase) => new DockerfileStage(index, words[0], words[2], instructions),
            _ => throw new FormatException($"{from}: expected FROM image [AS name]"),
        };
    }

    /// <summary>The logical instructions: comment lines dropped (also inside a continuation), backslash-continued lines joined.</summary>
    private static IEnumerable<DockerfileInstruction> Instructions(string text)
    {
        var logical = new StringBuilder();
        var start = 0;
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            var trimmed = line.Trim();
            if (trimmed.Length == 0 || trimmed.StartsWith('#')) continue;
            if (logical.Length == 0) start = i + 1;
            if (line.TrimEnd().EndsWith('\\'))
            {
                logical.Append(line.TrimEnd()[..^1]).Append(' ');
                continue;
            }
            logical.Append(line);
            yield return DockerfileInstruction.Parse(logical.ToString().Trim(), start);
            logical.Clear();
        }
        if (logical.Length > 0) throw new FormatException($"the instruction at line {start} ends in a continuation");
    }

    [GeneratedRegex(@"\$(?:\{(?<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?<operator>:[-+])(?<word>[^}]*))?\}|(?<bare>[A-Za-z_][A-Za-z0-9_]*))")]
    private static partial Regex VariablePattern();
}
