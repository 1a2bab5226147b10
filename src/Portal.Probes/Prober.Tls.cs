using System.Net;
using System.Net.Sockets;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Portal.Probes;

public sealed partial class Prober
{
    private async Task<ProbeResult> TlsAsync(ProbeTarget target, IPAddress address, CancellationToken cancellationToken)
    {
        var named = !IPAddress.TryParse(target.Host, out _);
        var withSni = await HandshakeAsync(target, address, named, cancellationToken);
        var withoutSni = named ? await HandshakeAsync(target, address, sni: false, cancellationToken) : null;
        var best = withSni.Completed ? withSni : withoutSni?.Completed == true ? withoutSni : withSni;
        var sniRequired = named && withSni.Completed && withoutSni is { Completed: false };
        var stalled = withSni.Stalled || withoutSni?.Stalled == true;
        var problems = best.Certificate?.Problems ?? [];

        string status;
        string summary;
        if (!withSni.Completed && withoutSni?.Completed != true)
        {
            status = "fail";
            summary = withSni.Stalled
                ? $"TCP connected, but the TLS handshake did not complete within {_options.HandshakeTimeout.TotalSeconds:0} s: the server never answered the ClientHello."
                : $"The TLS handshake failed: {withSni.Error}.";
        }
        else if (sniRequired)
        {
            status = "warn";
            summary = $"TLS works only with SNI: without a server name the handshake {(withoutSni!.Stalled ? "stalled" : "failed")} ({withoutSni.Error}). Clients that do not send SNI cannot connect.";
        }
        else if (problems.Count > 0)
        {
            status = "warn";
            summary = $"TLS completes, but the certificate is not valid: {string.Join(", ", problems)}.";
        }
        else
        {
            status = "pass";
            summary = $"TLS completes ({best.Protocol}, {best.Cipher}) and the certificate is valid for {target.Host}.";
        }

        return Result(
            "probe.tls", status,
            new()
            {
                ["sniOk"] = withSni.Completed ? 1 : 0,
                ["noSniOk"] = withoutSni is null ? null : withoutSni.Completed ? 1 : 0,
                ["sniRequired"] = sniRequired ? 1 : 0,
                ["stalled"] = stalled ? 1 : 0,
                ["handshakeMs"] = best.Completed ? best.Milliseconds : null,
                ["certificateValid"] = best.Certificate is null ? null : problems.Count == 0 ? 1 : 0,
                ["certificateDaysLeft"] = best.Certificate?.DaysLeft,
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
                ["certificate"] = best.Certificate?.Describe(),
                ["certificateProblems"] = problems,
                ["outcome"] = stalled && !withSni.Completed ? "tls-handshake-stalled" : sniRequired ? "sni-required" : problems.Count > 0 ? "certificate-problem" : status == "pass" ? "ok" : "tls-failed",
            },
            summary);
    }

    /// <summary>One TLS handshake on a fresh connection, closed with close_notify and FIN afterwards, or released when it stalls.</summary>
    private async Task<Handshake> HandshakeAsync(ProbeTarget target, IPAddress address, bool sni, CancellationToken cancellationToken)
    {
        var (socket, _, error) = await Connections.ConnectAsync(address, target.Port, _options.ConnectTimeout, cancellationToken);
        if (socket is null)
        {
            return new Handshake(sni, false, false, $"TCP: {error}", 0, null, null, null, null);
        }

        CertificateReport? certificate = null;
        var options = new SslClientAuthenticationOptions
        {
            // An empty target host sends no server_name extension.
            TargetHost = sni ? target.Host : string.Empty,
            ApplicationProtocols = target.IsWebSocket ? [SslApplicationProtocol.Http11] : [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11],
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = (_, cert, chain, errors) =>
            {
                certificate = cert is null ? null : CertificateReport.From(new X509Certificate2(cert), chain, errors, target.Host);
                return true;
            },
        };
        if (_trustStore is not null)
        {
            var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            policy.CustomTrustStore.AddRange(_trustStore);
            options.CertificateChainPolicy = policy;
        }

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
                ssl.NegotiatedApplicationProtocol.Protocol.IsEmpty ? null : ssl.NegotiatedApplicationProtocol.ToString(), certificate);
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
            return new Handshake(sni, false, false, Describe(ex), Connections.Elapsed(started), null, null, null, certificate);
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

    private sealed record Handshake(bool Sni, bool Completed, bool Stalled, string? Error, double Milliseconds, string? Protocol, string? Cipher, string? Alpn, CertificateReport? Certificate)
    {
        public Dictionary<string, object?> Describe() => new()
        {
            ["sni"] = Sni, ["completed"] = Completed, ["stalled"] = Stalled, ["error"] = Error, ["ms"] = Milliseconds,
            ["protocol"] = Protocol, ["cipher"] = Cipher, ["alpn"] = Alpn,
        };
    }
}
