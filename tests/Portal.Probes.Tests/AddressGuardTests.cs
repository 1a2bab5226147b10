using System.Net;
using System.Net.Sockets;

namespace Portal.Probes.Tests;

public class AddressGuardTests
{
    // Targets the guard refuses by their spelling or literal address, before anything is resolved.
    public static readonly TheoryData<string> ForbiddenTargets =
    [
        "http://127.0.0.1/", "http://127.1.2.3:8080/", "https://10.0.0.5/", "https://172.16.9.1/", "https://192.168.1.1/",
        "http://100.64.0.1/", "http://169.254.1.1/", "http://169.254.169.254/latest/meta-data/", "http://0.0.0.0/",
        "http://224.0.0.1/", "http://255.255.255.255/", "http://[::1]/", "http://[::]/", "http://[fe80::1]/", "http://[fc00::1]/",
        "http://[fd00:ec2::254]/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:169.254.169.254]/", "http://[::ffff:10.1.2.3]/",
        "http://[::127.0.0.1]/", "http://[64:ff9b::7f00:1]/", "http://[2002:7f00:1::]/", "http://[ff02::1]/",
        "http://[::ffff:0:7f00:1]/", "http://[::ffff:0:a9fe:a9fe]/", "http://[64:ff9b:1::a00:1]/", "http://[64:ff9b:1:ffff::5db8:d822]/",
        "http://2130706433/", "http://0177.0.0.1/", "http://0x7f.0.0.1/", "http://0x7f000001/", "http://127.1/", "http://017700000001/",
        "http://localhost:8080/", "http://api.localhost/", "localhost:22", "10.0.0.1:5432",
    ];

    [Theory]
    [MemberData(nameof(ForbiddenTargets))]
    public void CheckTarget_ForbiddenTarget_IsRefusedWithReason(string text)
    {
        ProbeTarget.TryParse(text, out var target, out var error).ShouldBeTrue(error);

        var decision = new AddressGuard().CheckTarget(target);

        decision.Allowed.ShouldBeFalse();
        decision.Reason.ShouldNotBeNullOrWhiteSpace();
    }

    [Fact]
    public void ForbiddenTargets_AreAtLeastTwenty()
    {
        ForbiddenTargets.Count.ShouldBeGreaterThanOrEqualTo(20);
    }

    [Theory]
    [InlineData("https://93.184.216.34/")]
    [InlineData("wss://[2606:4700:4700::1111]/socket")]
    [InlineData("https://example.com/")]
    [InlineData("example.com:443")]
    [InlineData("https://1.1.1.1/")]
    public void CheckTarget_PublicTarget_IsAllowed(string text)
    {
        ProbeTarget.TryParse(text, out var target, out _).ShouldBeTrue();

        new AddressGuard().CheckTarget(target).Allowed.ShouldBeTrue();
    }

    [Fact]
    public void CheckAddress_AllowListedAddress_OpensThatAddressOnly()
    {
        var guard = new AddressGuard(["127.0.0.1/32"]);

        guard.CheckAddress(IPAddress.Parse("127.0.0.1"), false).Allowed.ShouldBeTrue();
        guard.CheckAddress(IPAddress.Parse("::ffff:127.0.0.1"), false).Allowed.ShouldBeTrue();
        guard.CheckAddress(IPAddress.Parse("127.0.0.2"), false).Allowed.ShouldBeFalse();
        guard.CheckAddress(IPAddress.Parse("::1"), false).Allowed.ShouldBeFalse();
        guard.CheckAddress(IPAddress.Parse("10.0.0.1"), false).Allowed.ShouldBeFalse();
    }

    [Theory]
    [InlineData("169.254.169.254")]
    [InlineData("fd00:ec2::254")]
    [InlineData("::ffff:169.254.169.254")]
    [InlineData("100.100.100.200")]
    public void CheckAddress_MetadataEvenWhenAllowListed_IsRefused(string address)
    {
        var guard = new AddressGuard(["0.0.0.0/0", "::/0", "169.254.169.254/32"]);

        var decision = guard.CheckAddress(IPAddress.Parse(address), hostAllowed: true);

        decision.Allowed.ShouldBeFalse();
        decision.Reason!.ShouldContain("metadata");
    }

    [Fact]
    public async Task ResolveAsync_NameWithOnePrivateAddress_IsRefusedNamingIt()
    {
        var guard = new AddressGuard();
        ProbeTarget.TryParse("https://sneaky.example/", out var target, out _);

        var guarded = await guard.ResolveAsync(target, Resolver(("sneaky.example", "93.184.216.34"), ("sneaky.example", "10.1.2.3")), CancellationToken.None);

        guarded.Decision.Allowed.ShouldBeFalse();
        guarded.Decision.Reason!.ShouldContain("10.1.2.3");
    }

    [Fact]
    public async Task ResolveAsync_NameResolvingToMappedLoopback_IsRefused()
    {
        ProbeTarget.TryParse("wss://rebind.example/ws", out var target, out _);

        var guarded = await new AddressGuard().ResolveAsync(target, Resolver(("rebind.example", "::ffff:127.0.0.1")), CancellationToken.None);

        guarded.Decision.Allowed.ShouldBeFalse();
    }

    [Fact]
    public async Task ResolveAsync_AllowListedHostName_OpensItsAddressesButNotMetadata()
    {
        var guard = new AddressGuard(["intranet.corp"]);
        ProbeTarget.TryParse("https://intranet.corp/", out var target, out _);
        ProbeTarget.TryParse("https://other.corp/", out var other, out _);
        var resolver = Resolver(("intranet.corp", "10.20.30.40"), ("other.corp", "10.20.30.41"));

        (await guard.ResolveAsync(target, resolver, CancellationToken.None)).Decision.Allowed.ShouldBeTrue();
        (await guard.ResolveAsync(other, resolver, CancellationToken.None)).Decision.Allowed.ShouldBeFalse();
        (await guard.ResolveAsync(target, Resolver(("intranet.corp", "169.254.169.254")), CancellationToken.None)).Decision.Allowed.ShouldBeFalse();
    }

    [Fact]
    public async Task ResolveAsync_PublicName_KeepsTheCheckedAddresses()
    {
        ProbeTarget.TryParse("https://public.example/", out var target, out _);

        var guarded = await new AddressGuard().ResolveAsync(target, Resolver(("public.example", "93.184.216.34"), ("public.example", "2606:2800:220:1::1")), CancellationToken.None);

        guarded.Decision.Allowed.ShouldBeTrue();
        guarded.IPv4.ShouldBe([IPAddress.Parse("93.184.216.34")]);
        guarded.IPv6.ShouldBe([IPAddress.Parse("2606:2800:220:1::1")]);
    }

    /// <summary>A resolver with fixed answers: the seam that lets a test make a name resolve anywhere.</summary>
    internal static HostResolver Resolver(params (string Host, string Address)[] entries) => (host, family, _) =>
        Task.FromResult(entries.Where(e => e.Host == host).Select(e => IPAddress.Parse(e.Address)).Where(a => a.AddressFamily == family).ToArray());
}
