namespace OrleansLm.Integration.Tests.Deployment;

/// <summary>A COPY: its sources (in the build context, or in <see cref="From"/>: a stage or an image) and destination.</summary>
public sealed record DockerCopy(DockerfileStage Stage, DockerfileInstruction Instruction, string? From, IReadOnlyList<string> Sources, string Destination)
{
    public override string ToString() => $"{Stage}, {Instruction}";
}

/// <summary>
/// What a target of a <see cref="Dockerfile"/> builds, resolved through its chain of stages as the builder does: the
/// environment, user, working directory, entrypoint, command, health check and exposed ports the image runs with, and
/// the instructions that made it.
/// </summary>
public sealed class ContainerImage
{
    private readonly Dictionary<string, string> environment = new(StringComparer.Ordinal);
    private readonly SortedSet<int> exposedPorts = [];

    internal ContainerImage(Dockerfile dockerfile, string baseImage, IReadOnlyList<DockerfileStage> chain, IReadOnlyDictionary<string, string> buildArguments)
    {
        Dockerfile = dockerfile;
        BaseImage = baseImage;
        Chain = chain;
        BuildArguments = buildArguments;
        foreach (var stage in chain)
            Apply(stage);
    }

    public Dockerfile Dockerfile { get; }

    /// <summary>The outside image the first stage of the chain starts FROM.</summary>
    public string BaseImage { get; }

    /// <summary>The stages this image is built of, the target last.</summary>
    public IReadOnlyList<DockerfileStage> Chain { get; }

    /// <summary>The global ARGs as this build sets them.</summary>
    public IReadOnlyDictionary<string, string> BuildArguments { get; }

    public IReadOnlyDictionary<string, string> Environment => environment;

    public string? User { get; private set; }

    public string WorkingDirectory { get; private set; } = "/";

    public IReadOnlyList<string>? Entrypoint { get; private set; }

    public IReadOnlyList<string>? Cmd { get; private set; }

    /// <summary>The health check's command, null for none.</summary>
    public IReadOnlyList<string>? Healthcheck { get; private set; }

    public DockerfileInstruction? HealthcheckInstruction { get; private set; }

    public IReadOnlySet<int> ExposedPorts => exposedPorts;

    public IEnumerable<(DockerfileStage Stage, DockerfileInstruction Instruction)> Instructions =>
        Chain.SelectMany(stage => stage.Instructions.Select(instruction => (stage, instruction)));

    /// <summary>The COPY instructions of the chain, sources and destination expanded.</summary>
    public IEnumerable<DockerCopy> Copies => Instructions
        .Where(step => step.Instruction.Keyword == "COPY")
        .Select(step =>
        {
            var words = step.Instruction.ExecForm ?? step.Instruction.Words;
            if (words.Count < 2) throw new FormatException($"{step.Instruction}: COPY needs a source and a destination");
            var from = step.Instruction.Flags.TryGetValue("from", out var named) ? Dockerfile.Substitute(named, BuildArguments) : null;
            return new DockerCopy(step.Stage, step.Instruction, from, words.SkipLast(1).ToList(), words[^1]);
        });

    /// <summary>The RUN commands of the chain, as given (shell form text, or the exec form joined).</summary>
    public IEnumerable<(DockerfileStage Stage, DockerfileInstruction Instruction)> Runs => Instructions.Where(step => step.Instruction.Keyword == "RUN");

    /// <summary>The packages <c>apt-get install</c> installs in the chain's RUNs.</summary>
    public IReadOnlySet<string> AptPackages => Runs
        .SelectMany(run => run.Instruction.Arguments.Split(["&&", ";", "||"], StringSplitOptions.None))
        .Select(ShellWords.Split)
        .Where(words => words.Count > 2 && words[0] == "apt-get" && words.Contains("install"))
        .SelectMany(words => words.SkipWhile(word => word != "install").Skip(1).Where(word => !word.StartsWith('-')))
        .ToHashSet(StringComparer.Ordinal);

    /// <summary>The outside images building this image reads: its base image and those its COPY --from name, through stages.</summary>
    public IReadOnlySet<string> OutsideImages
    {
        get
        {
            var images = new HashSet<string>(StringComparer.Ordinal) { BaseImage };
            foreach (var copy in Copies.Where(copy => copy.From is not null))
            {
                var stage = Dockerfile.Stages.FirstOrDefault(s => string.Equals(s.Name, copy.From, StringComparison.OrdinalIgnoreCase));
                if (stage is null) images.Add(copy.From!);
                else images.UnionWith(Dockerfile.Image(stage.Name!, BuildArguments).OutsideImages);
            }
            return images;
        }
    }

    private void Apply(DockerfileStage stage)
    {
        // Stage ARGs are visible to the stage's later instructions; a re-declared global ARG takes the build's value.
        var stageArguments = new Dictionary<string, string>(StringComparer.Ordinal);
        var commandSetHere = false;
        foreach (var instruction in stage.Instructions)
        {
            var variables = new Dictionary<string, string>(stageArguments, StringComparer.Ordinal);
            foreach (var (name, value) in environment) variables[name] = value;
            switch (instruction.Keyword)
            {
                case "ARG":
                    var (argument, defaultValue) = Dockerfile.Assignment(instruction.Words.Single());
                    stageArguments[argument] = BuildArguments.TryGetValue(argument, out var given) ? given : defaultValue ?? "";
                    break;
                case "ENV":
                    foreach (var pair in instruction.Words)
                    {
                        var (name, value) = Dockerfile.Assignment(pair);
                        if (value is null) throw new FormatException($"{instruction}: write ENV NAME=value");
                        environment[name] = Dockerfile.Substitute(value, variables);
                    }
                    break;
                case "USER":
                    User = Dockerfile.Substitute(instruction.Arguments, variables);
                    break;
                case "WORKDIR":
                    WorkingDirectory = Path.Combine(WorkingDirectory, Dockerfile.Substitute(instruction.Arguments, variables));
                    break;
                case "ENTRYPOINT":
                    Entrypoint = DockerfileInstruction.Command(instruction.Arguments);
                    // As the builder does: a CMD inherited from the stage's base no longer applies to a new entrypoint.
                    if (!commandSetHere) Cmd = null;
                    break;
                case "CMD":
                    Cmd = DockerfileInstruction.Command(instruction.Arguments);
                    commandSetHere = true;
                    break;
                case "HEALTHCHECK":
                    HealthcheckInstruction = instruction;
                    Healthcheck = instruction.Arguments.Equals("NONE", StringComparison.OrdinalIgnoreCase) ? null
                        : instruction.Arguments.StartsWith("CMD ", StringComparison.OrdinalIgnoreCase) ? DockerfileInstruction.Command(instruction.Arguments[4..].Trim())
                        : throw new FormatException($"{instruction}: expected HEALTHCHECK [options] CMD command, or NONE");
                    break;
                case "EXPOSE":
                    foreach (var port in instruction.Words)
                        exposedPorts.Add(int.Parse(port.Split('/')[0], System.Globalization.CultureInfo.InvariantCulture));
                    break;
            }
        }
    }
}
