using OrleansLm.Runtime.Grains;

namespace OrleansLm.Runtime.Tests.Grains;

public sealed class GrainIdTests
{
    [Fact]
    public void KeysOfEachKindFormatAndParseBack()
    {
        var byString = GrainId.Create(typeof(ILifecycleGrain), "runs/2024 a+b");
        var byInteger = GrainId.Create(typeof(ICalculatorGrain), -42);
        var compound = GrainId.Create(typeof(IKeyedGrain), "run+7", -3);

        byString.ToString().Should().Be($"{typeof(ILifecycleGrain).FullName}/runs/2024 a+b");
        byInteger.Key.Should().Be("-42");
        compound.Key.Should().Be("run+7+-3");
        foreach (var id in new[] { byString, byInteger, compound }) GrainId.Parse(id.ToString()).Should().Be(id);
        byString.GetStringKey().Should().Be("runs/2024 a+b");
        byInteger.GetIntegerKey().Should().Be(-42);
        compound.GetCompoundKey().Should().Be(("run+7", -3L));
    }

    [Fact]
    public void WrongKindOfKeyIsAClearError()
    {
        FluentActions.Invoking(() => GrainId.Create(typeof(ILifecycleGrain), "seven").GetIntegerKey())
            .Should().Throw<FormatException>().WithMessage("*ILifecycleGrain/seven has no integer key");
        FluentActions.Invoking(() => GrainId.Create(typeof(ILifecycleGrain), "seven").GetCompoundKey())
            .Should().Throw<FormatException>().WithMessage("*has no compound key*");
        FluentActions.Invoking(() => GrainId.Parse("no-separator")).Should().Throw<FormatException>().WithMessage("'no-separator' is not a grain id*");
        FluentActions.Invoking(() => GrainId.Create(typeof(IDisposable), 1)).Should().Throw<ArgumentException>().WithMessage("*not a grain interface*");
        FluentActions.Invoking(() => default(GrainId).Type).Should().Throw<InvalidOperationException>();
    }

    [Fact]
    public void StableHashIsFnv1aOfTheTextForm()
    {
        // FNV-1a 32 of "Ns.IFoo/run+3", computed independently.
        GrainId.Create("Ns.IFoo", "run+3").StableHash().Should().Be(0x983eb3ddu);
        GrainId.Create("Ns.IFoo", "run+3").StableHash().Should().Be(GrainId.Parse("Ns.IFoo/run+3").StableHash());
    }
}
