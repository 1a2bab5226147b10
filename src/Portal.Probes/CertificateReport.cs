using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Portal.Probes;

/// <summary>
/// The certificate a TLS server showed and what is wrong with it, in the words an engineer uses: <c>expired</c>,
/// <c>not-yet-valid</c>, <c>self-signed</c>, <c>untrusted-root</c>, <c>name-mismatch</c>,
/// <c>revoked</c>.
/// </summary>
public sealed record CertificateReport(
    string Subject,
    string Issuer,
    DateTimeOffset NotBefore,
    DateTimeOffset NotAfter,
    IReadOnlyList<string> Names,
    IReadOnlyList<string> Chain,
    IReadOnlyList<string> Problems,
    double DaysLeft)
{
    /// <summary>Reads a certificate and the validation the TLS stack did.</summary>
    public static CertificateReport From(X509Certificate2 certificate, X509Chain? chain, SslPolicyErrors errors, string host)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        var now = DateTimeOffset.UtcNow;
        var problems = new List<string>();
        var statuses = chain?.ChainStatus.Aggregate(X509ChainStatusFlags.NoError, (all, s) => all | s.Status) ?? X509ChainStatusFlags.NoError;
        var notBefore = new DateTimeOffset(certificate.NotBefore.ToUniversalTime());
        var notAfter = new DateTimeOffset(certificate.NotAfter.ToUniversalTime());
        if (now > notAfter)
        {
            problems.Add("expired");
        }
        else if (now < notBefore)
        {
            problems.Add("not-yet-valid");
        }

        var selfSigned = string.Equals(certificate.Subject, certificate.Issuer, StringComparison.Ordinal) && (chain?.ChainElements.Count ?? 1) <= 1;
        if ((errors & SslPolicyErrors.RemoteCertificateChainErrors) != 0)
        {
            if (selfSigned && (statuses & (X509ChainStatusFlags.UntrustedRoot | X509ChainStatusFlags.PartialChain)) != 0)
            {
                problems.Add("self-signed");
            }
            else if ((statuses & (X509ChainStatusFlags.UntrustedRoot | X509ChainStatusFlags.PartialChain)) != 0)
            {
                // The chain does not lead to a root the portal trusts: the root is unknown (a private or an intercepting
                // proxy's CA), or the server left out an intermediate; the chain in the detail shows which.
                problems.Add("untrusted-root");
            }

            if ((statuses & X509ChainStatusFlags.Revoked) != 0)
            {
                problems.Add("revoked");
            }

            if (problems.Count == 0 && (statuses & ~X509ChainStatusFlags.NotTimeValid) != X509ChainStatusFlags.NoError)
            {
                problems.Add("chain-error: " + string.Join("; ", chain!.ChainStatus.Select(s => s.StatusInformation.Trim())));
            }
        }

        if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0 || (host.Length > 0 && !certificate.MatchesHostname(host)))
        {
            problems.Add("name-mismatch");
        }

        var names = certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>()
            .SelectMany(e => e.EnumerateDnsNames().Concat(e.EnumerateIPAddresses().Select(a => a.ToString())))
            .ToList();
        var path = chain?.ChainElements.Select(e => e.Certificate.Subject).ToList() ?? [certificate.Subject];
        return new CertificateReport(certificate.Subject, certificate.Issuer, notBefore, notAfter, names, path, problems.Distinct().ToList(), Math.Round((notAfter - now).TotalDays, 1));
    }

    /// <summary>The report as stored in a result's detail.</summary>
    public Dictionary<string, object?> Describe() => new()
    {
        ["subject"] = Subject, ["issuer"] = Issuer, ["notBefore"] = NotBefore, ["notAfter"] = NotAfter, ["names"] = Names, ["chain"] = Chain, ["problems"] = Problems,
    };
}
