namespace OrleansLm.Integration.Tests.Deployment;

/// <summary>
/// The tests' .dockerignore matcher against the rules and examples of Docker's documentation, so that the Dockerfile
/// tests' verdicts on the real file mean what the builder will do.
/// </summary>
public class DockerIgnoreTests
{
    public static TheoryData<string, string, bool> Cases => new()
    {
        // .dockerignore (lines separated by |), path in the context, excluded
        // Docker's own examples: '*' stops at '/', '?' is one character, '**' spans directories.
        { "*/temp*", "somedir/temporary.txt", true },
        { "*/temp*", "temp.txt", false },
        { "*/temp*", "a/b/temporary.txt", false },
        { "*/*/temp*", "somedir/subdir/temporary.txt", true },
        { "temp?", "tempa", true },
        { "temp?", "temp12", false },
        { "**/*.go", "main.go", true },
        { "**/*.go", "cmd/olm/main.go", true },
        { "**/*.go", "cmd/go", false },
        // A pattern matching a directory excludes what is under it; '**' also matches no directory at all.
        { "**/bin", "bin/olm.dll", true },
        { "**/bin", "silo/bin/Release/net10.0/OrleansLm.Silo.dll", true },
        { "**/bin", "binary/file", false },
        { "**/bin", "silo/bins", false },
        { "temp?", "temp1/inside", true },
        { "foo/**", "foo/a/b", true },
        { "foo/**", "food/a", false },
        // Cleaned as filepath.Clean cleans: leading and trailing '/', '.' segments; lines trimmed; comments.
        { "/foo/./bar/", "foo/bar/baz", true },
        { "  .git  ", ".git/HEAD", true },
        { "# .git", ".git/HEAD", false },
        { "bin", "silo/bin/x", false },
        // The last matching line decides; '!' re-includes, even under an excluded directory.
        { "*.md|!README*.md|README-secret.md", "README-secret.md", true },
        { "*.md|!README*.md|README-secret.md", "README.md", false },
        { "*.md|!README*.md|README-secret.md", "CHANGES.md", true },
        { "docs|!docs/keep.md", "docs/drop.md", true },
        { "docs|!docs/keep.md", "docs/keep.md", false },
        { "!docs/keep.md|docs", "docs/keep.md", true },
        // Character classes, and '\' escaping a metacharacter.
        { "[a-c]*.txt", "b1.txt", true },
        { "[a-c]*.txt", "d1.txt", false },
        { "[^a]*.txt", "a1.txt", false },
        { "[^a]*.txt", "b1.txt", true },
        { @"\*.txt", "*.txt", true },
        { @"\*.txt", "a.txt", false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void PathIsExcludedAsDockerExcludesIt(string lines, string path, bool excluded) =>
        DockerIgnore.Parse(lines.Replace('|', '\n')).Excludes(path).Should().Be(excluded, $"'{path}' against [{lines}]");

    [Fact]
    public void TheDecidingPatternIsReportedAsWritten()
    {
        var ignore = DockerIgnore.Parse("*.md\n!README*.md\n**/obj\n");
        ignore.Why("README.md").Should().Be("!README*.md");
        ignore.Why("silo/obj/project.assets.json").Should().Be("**/obj");
        ignore.Why("silo/Program.cs").Should().BeNull();
    }
}
