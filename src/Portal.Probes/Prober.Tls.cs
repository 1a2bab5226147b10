using System.Net;
using System.Net.Sockets;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Portal.Core.Tls;

namespace Portal.Probes;

public sealed partial class Prober
{
    private async Task<ProbeResult> TlsAsync(ProbeTarget target, IPAddress address, AddressGuard guard, CancellationToken cancellationToken)
    {
        var named = !IPAddress.TryParse(target.Host, out _);
        var withSni = await HandshakeAsync(target, address, named, cancellationToken);
        var withoutSni = named ? await HandshakeAsync(target, address, sni: false, cancellationToken) : null;
        var best = withSni.Completed ? withSni : withoutSni?.Completed == true ? withoutSni : withSni;
        var sniRequired = named && withSni.Completed && withoutSni is { Completed: false };
        var stalled = withSni.Stalled || withoutSni?.Stalled == true;
        var completed = withSni.Completed || withoutSni?.Completed == true;

        // What the server speaks, asked the way testssl.sh asks: a server that never answers a ClientHello or refuses
        // TCP is not asked again.
        var tcpFailed = withSni.Error?.StartsWith("TCP:", StringComparison.Ordinal) == true;
        var offer = stalled || tcpFailed ? null : await ScanAsync(target, address, named, cancellationToken);
        var sent = best.Sent ?? (completed ? null : offer?.Certificate?.Certificates);
        var certificate = sent is { Count: > 0 }
            ? CertificateReport.From(sent, target.Host, _trustStore, offer?.Certificate?.OcspStapled, IsPublicRoot)
            : null;
        var problems = certificate?.Problems ?? [];

        // A chain sent without its intermediate: would a client that fetches the issuer (Chrome, Edge, Safari) complete it?
        var aia = certificate is { IssuerUrl: { } issuerUrl } && problems.Contains(CertificateProblems.IncompleteChain) && sent is not null
            ? await AiaRescueAsync(issuerUrl, sent, target.Host, guard, cancellationToken)
            : null;
        var verdict = certificate is null ? "" : problems.Count == 0
            ? " The certificate is valid."
            : $" The certificate is not valid: {string.Join(", ", problems)}.";

        string status;
        string summary;
        string outcome;
        if (!completed && stalled)
        {
            status = "fail";
            outcome = "tls-handshake-stalled";
            summary = $"TCP connected, but the TLS handshake did not complete within {_options.HandshakeTimeout.TotalSeconds:0} s: the server never answered the ClientHello.";
        }
        else if (!completed && offer is { BrowsersConnect: true })
        {
            // The portal's own TLS library could not finish what a browser's hello starts: the probe's limit, not the server's.
            status = problems.Count == 0 ? "pass" : "warn";
            outcome = problems.Count == 0 ? "ok" : "certificate-problem";
            summary = $"The server answers a browser's ClientHello ({offer.Protocols[^1]}); the portal's own TLS client could not complete the handshake ({withSni.Error}), a limit of the probe, not of the server.{verdict}";
        }
        else if (!completed && offer is { NothingAccepted: false } && offer.Protocols.All(p => p is "TLSv1.0" or "TLSv1.1"))
        {
            status = "fail";
            outcome = "tls-obsolete-protocol";
            summary = $"The server speaks only {string.Join(" and ", offer.Protocols)}: Chrome, Firefox, Edge and Safari refuse it (TLS 1.2 is the oldest version they accept).{verdict}";
        }
        else if (!completed && offer is { NothingAccepted: false })
        {
            status = "fail";
            outcome = "tls-no-browser-cipher";
            summary = $"The server speaks {string.Join(" and ", offer.Protocols)}, but only with cipher suites browsers no longer offer ({string.Join(", ", offer.Families.DefaultIfEmpty("none the probe knows"))}): Chrome, Firefox, Edge and Safari cannot connect.{verdict}";
        }
        else if (!completed)
        {
            status = "fail";
            outcome = "tls-failed";
            summary = $"The TLS handshake failed: {withSni.Error}{(offer?.FirstRefusal is { } refusal ? $"; the server answered every ClientHello with {refusal}" : "")}.";
        }
        else if (sniRequired)
        {
            status = "warn";
            outcome = "sni-required";
            summary = $"TLS works only with SNI: without a server name the handshake {(withoutSni!.Stalled ? "stalled" : "failed")} ({withoutSni.Error}). Clients that do not send SNI cannot connect.";
        }
        else if (problems.Count > 0)
        {
            status = "warn";
            outcome = "certificate-problem";
            summary = $"TLS completes, but the certificate is not valid: {string.Join(", ", problems)}.";
        }
        else
        {
            status = "pass";
            outcome = "ok";
            summary = $"TLS completes ({best.Protocol}, {best.Cipher}) and the certificate is valid for {target.Host}.";
        }

        if (offer?.Obsolete is { Count: > 0 } obsolete && outcome is "ok" or "certificate-problem" or "sni-required")
        {
            summary += $" The server still accepts {string.Join(", ", obsolete)}; browsers use something better.";
        }

        int? Speaks(string protocol) => offer is null ? null : offer.Protocols.Contains(protocol) ? 1 : 0;
        return Result(
            "probe.tls", status,
            new()
            {
                ["sniOk"] = withSni.Completed ? 1 : 0,
                ["noSniOk"] = withoutSni is null ? null : withoutSni.Completed ? 1 : 0,
                ["sniRequired"] = sniRequired ? 1 : 0,
                ["stalled"] = stalled ? 1 : 0,
                ["handshakeMs"] = best.Completed ? best.Milliseconds : null,
                ["certificateValid"] = certificate is null ? null : problems.Count == 0 ? 1 : 0,
                ["certificateDaysLeft"] = certificate?.DaysLeft,
                ["tls10"] = Speaks("TLSv1.0"),
                ["tls11"] = Speaks("TLSv1.1"),
                ["tls12"] = Speaks("TLSv1.2"),
                ["tls13"] = Speaks("TLSv1.3"),
                ["browsersConnect"] = offer is null ? null : offer.BrowsersConnect || completed ? 1 : 0,
                ["obsoleteOffered"] = offer?.Obsolete.Count,
                ["aiaRescues"] = aia?.Rescues is { } rescues ? rescues ? 1 : 0 : null,
            },
            target,
            new()
            {
                ["address"] = address.ToString(),
                ["withSni"] = withSni.Describe(),
                ["withoutSni"] = withoutSni?.Describe(),
                ["protocol"] = best.Protocol,
                ["cipher"] = best.Cipher,
                ["alpn"] = best.Alpn,
                ["certificate"] = certificate?.Describe(),
                ["certificateProblems"] = problems,
                ["protocols"] = offer?.Protocols,
                ["cipherFamilies"] = offer?.Families,
                ["obsolete"] = offer?.Obsolete,
                ["hellos"] = offer?.Answers,
                ["aia"] = aia?.Describe(),
                ["outcome"] = outcome,
            },
            summary);
    }

    /// <summary>
    /// Fetches the issuer the leaf names (AIA caIssuers, through the address guard, at most 64 KiB) and builds the chain
    /// again with it: whether browsers that fetch can complete what the server did not send.
    /// </summary>
    private async Task<AiaCheck> AiaRescueAsync(string url, IReadOnlyList<X509Certificate2> sent, string host, AddressGuard guard, CancellationToken cancellationToken)
    {
        // Rescues is null when the portal could not ask (not http, refused by its own guard, no route or name from
        // here): that says nothing of what a browser elsewhere can fetch. False only when the URL answered without it.
        if (!ProbeTarget.TryParse(url, out var issuerTarget, out _) || !issuerTarget.IsHttp)
        {
            return new AiaCheck(url, null, "not an http URL the portal fetches");
        }

        var guarded = await guard.ResolveAsync(issuerTarget, _resolver, cancellationToken);
        if (!guarded.Decision.Allowed)
        {
            return new AiaCheck(url, null, $"not fetched: {guarded.Decision.Reason}");
        }

        try
        {
            using var handler = GuardedHttp.Handler(guarded, _options.ConnectTimeout, validateCertificates: true);
            using var client = new HttpClient(handler) { Timeout = _options.RequestTimeout, MaxResponseContentBufferSize = 64 * 1024 };
            var bytes = await client.GetByteArrayAsync(new Uri(url), cancellationToken);
            var issuer = X509CertificateLoader.LoadCertificate(bytes);
            var again = CertificateReport.From([.. sent, issuer], host, _trustStore, null, IsPublicRoot);
            return new AiaCheck(url, !again.Problems.Contains(CertificateProblems.IncompleteChain) && !again.Problems.Contains(CertificateProblems.UntrustedRoot), null);
        }
        catch (HttpRequestException ex) when (ex.StatusCode is { } status)
        {
            return new AiaCheck(url, false, $"the URL answered {(int)status}");
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            return new AiaCheck(url, false, "the URL answered with something that is not a certificate");
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
        {
            return new AiaCheck(url, null, ex is TaskCanceledException ? $"no answer within {_options.RequestTimeout.TotalSeconds:0} s" : Describe(ex));
        }
    }

    private sealed record AiaCheck(string Url, bool? Rescues, string? Error)
    {
        public Dictionary<string, object?> Describe() => new() { ["url"] = Url, ["rescues"] = Rescues, ["error"] = Error };
    }

    private bool IsPublicRoot(X509Certificate2 root) => SystemRoots.Value.Contains(root.Thumbprint);

    // The system's roots, read once: a chain ending in one of them is publicly trusted.
    private static readonly Lazy<HashSet<string>> SystemRoots = new(() =>
    {
        using var store = new X509Store(StoreName.Root, StoreLocation.LocalMachine);
        store.Open(OpenFlags.ReadOnly);
        return [.. store.Certificates.Select(c => c.Thumbprint)];
    });

    /// <summary>One TLS handshake on a fresh connection, closed with close_notify and FIN afterwards, or released when it stalls.</summary>
    private async Task<Handshake> HandshakeAsync(ProbeTarget target, IPAddress address, bool sni, CancellationToken cancellationToken)
    {
        var (socket, _, error) = await Connections.ConnectAsync(address, target.Port, _options.ConnectTimeout, cancellationToken);
        if (socket is null)
        {
            return new Handshake(sni, false, false, $"TCP: {error}", 0, null, null, null, null);
        }

        List<X509Certificate2>? sent = null;
        var options = new SslClientAuthenticationOptions
        {
            // A browser's suites, CBC ones included: a server every browser reaches must not fail the probe's handshake.
            CipherSuitesPolicy = TlsSuites.ProbePolicy,
            // An empty target host sends no server_name extension.
            TargetHost = sni ? target.Host : string.Empty,
            ApplicationProtocols = target.IsWebSocket ? [SslApplicationProtocol.Http11] : [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11],
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = (_, cert, chain, _) =>
            {
                // The certificates as the server sent them (the stack puts them in the chain's extra store); judged afterwards.
                if (cert is not null)
                {
                    var leaf = X509CertificateLoader.LoadCertificate(cert.GetRawCertData());
                    sent = [leaf, .. (chain?.ChainPolicy.ExtraStore.Cast<X509Certificate2>() ?? []).Where(c => c.Thumbprint != leaf.Thumbprint)];
                }

                return true;
            },
        };

        var stream = new NetworkStream(socket, ownsSocket: false);
        var ssl = new SslStream(stream, leaveInnerStreamOpen: true);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.HandshakeTimeout);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            await ssl.AuthenticateAsClientAsync(options, timeout.Token);
            var ms = Connections.Elapsed(started);
            var result = new Handshake(sni, true, false, null, ms, ssl.SslProtocol.ToString(), ssl.NegotiatedCipherSuite.ToString(),
                ssl.NegotiatedApplicationProtocol.Protocol.IsEmpty ? null : ssl.NegotiatedApplicationProtocol.ToString(), sent);
            try
            {
                await ssl.ShutdownAsync();
            }
            catch (IOException)
            {
                // The server went first; the connection is closing anyway.
            }

            return result;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new Handshake(sni, false, true, $"no ServerHello within {_options.HandshakeTimeout.TotalSeconds:0} s", Connections.Elapsed(started), null, null, null, null);
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException or System.ComponentModel.Win32Exception)
        {
            return new Handshake(sni, false, false, Describe(ex), Connections.Elapsed(started), null, null, null, sent);
        }
        finally
        {
            await ssl.DisposeAsync();
            await stream.DisposeAsync();
            await Connections.CloseAsync(socket);
        }
    }

    private static string Describe(Exception ex)
    {
        var inner = ex;
        while (inner.InnerException is not null)
        {
            inner = inner.InnerException;
        }

        return inner == ex ? ex.Message : $"{ex.Message} ({inner.Message})";
    }

    private sealed record Handshake(bool Sni, bool Completed, bool Stalled, string? Error, double Milliseconds, string? Protocol, string? Cipher, string? Alpn, IReadOnlyList<X509Certificate2>? Sent)
    {
        public Dictionary<string, object?> Describe() => new()
        {
            ["sni"] = Sni, ["completed"] = Completed, ["stalled"] = Stalled, ["error"] = Error, ["ms"] = Milliseconds,
            ["protocol"] = Protocol, ["cipher"] = Cipher, ["alpn"] = Alpn,
        };
    }
}
