using OrleansLm.Testing;

namespace OrleansLm.Runtime.Tests.Infrastructure;

/// <summary>The test classes sharing one <see cref="PostgresFixture"/> (xUnit reads collection definitions from the test assembly only).</summary>
[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresFixture>
{
    public const string Name = "PostgreSQL";
}
