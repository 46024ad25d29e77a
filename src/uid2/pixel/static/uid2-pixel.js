/*
 * uid2-pixel.js: the browser side of UID2 tracking pixels (no build step, no dependencies).
 *
 * WHAT IT DOES
 *   p.fire(event, dii, params) turns an email or phone number typed on the page into a UID2
 *   advertising token and sends it to a pixel receiver with a plain image GET:
 *
 *     {pixelUrl}?uid2_token=<token>&ev=<event>&<params...>&cb=<random>
 *
 *   cb is a random cache-buster (16 hex digits): browsers reuse an image already loaded by the
 *   page for the same URL without asking the server again, so two identical events would
 *   otherwise reach the receiver once. Set cacheBuster: false to leave it out.
 *
 *   1. The DII is normalised and hashed in the browser, exactly as the operator does it
 *      (operator.md §3.1): SHA-256 of the UTF-8 of the normalised email or phone, base64.
 *   2. A token is taken from localStorage if it was made for the same person; it is refreshed
 *      through POST {operatorUrl}/v2/token/refresh once refresh_from has passed; otherwise a
 *      new one is made with client-side token generation, POST
 *      {operatorUrl}/v2/token/client-generate (operator.md §1.6, §1.8, §7): the DII hash is
 *      encrypted with AES-256-GCM under an ECDH (P-256) secret shared with the operator's
 *      public key, so only the operator ever sees it.
 *   3. The pixel is fired with `new Image()`. The receiver gets the advertising token and the
 *      event, never the email, the phone or their hashes. fire() refuses ("invalid") an event or
 *      params that carry the DII, and params that try to set uid2_token, ev or cb.
 *
 * CONFIG
 *   var p = uid2Pixel.create({
 *     operatorUrl:     "https://operator.example.com",  // base URL of the UID2 operator
 *     subscriptionId:  "abcdEFGH12",                    // the CSTG keypair's subscription id
 *     serverPublicKey: "UID2-X-P-MFkw...",             // its public key, prefix included
 *     pixelUrl:        "https://pixel.example.net/p",   // the receiver
 *     storageKey:      "uid2-pixel-identity",           // optional localStorage key
 *     cacheBuster:     true                             // optional, see cb above
 *   });
 *   p.fire("purchase", {email: "Jane.Doe@example.com"}, {value: "12.50"})
 *     .then(function (r) { ... });  // r = {status: "sent"|"optout"|"invalid"|"error", url?}
 *   The identity is one of {email}, {phone} (E.164, "+" and 10-15 digits), {emailHash} or
 *   {phoneHash} (44-character base64 or 64 hex SHA-256 of the normalised value).
 *   The page's origin must be one of the publisher's registered domains at the operator.
 *
 * RESULTS (fire() always resolves, it never rejects)
 *   "sent"    the pixel was fired with a uid2_token; `url` is the pixel URL.
 *   "optout"  the user has opted out of UID2: the pixel is still fired, WITHOUT a uid2_token
 *             parameter (only ev and the params), so the event is counted but not linked to
 *             a UID2. The opt-out is remembered in localStorage for that person (by
 *             fingerprint), and no token is generated for the same DII again.
 *   "invalid" the DII, the event or the params are unusable; nothing is sent anywhere.
 *   "error"   the operator could not be reached or answered with an error; no pixel is
 *             fired (a pixel without a token would look like an opt-out).
 *
 * STORAGE
 *   localStorage[storageKey] = JSON {dii_hash_fingerprint, identity, optout?}. `identity` is
 *   the operator's identity response (tokens, expiry times and refresh_response_key). The
 *   fingerprint is base64 SHA-256 over the DII hash (with its type, the operator URL and the
 *   subscription id), so neither the DII nor its hash is stored in clear. One person at a time:
 *   firing for somebody else replaces the entry. Without usable localStorage the identity is
 *   kept in memory for the life of the page.
 *
 * SECURITY CONTEXT
 *   Only WebCrypto (crypto.subtle) is used, which browsers offer in secure contexts only:
 *   https pages, or http://localhost for development. create() throws elsewhere.
 */
(function (global) {
  "use strict";

  var VERSION = "1.0.0";
  var DEFAULT_STORAGE_KEY = "uid2-pixel-identity";
  var SERVER_KEY_PREFIX_LENGTH = 9; // "UID2-X-P-" / "EUID-X-L-" (operator.md §7.1)
  var GCM_IV_LENGTH = 12;
  var RESERVED_PARAMS = { uid2_token: true, ev: true, cb: true };
  var PHONE = /^\+[0-9]{10,15}$/;
  var HASH_B64 = /^[A-Za-z0-9+/]{43}=$/; // 32 bytes, strict standard base64
  var HASH_HEX = /^[0-9A-Fa-f]{64}$/;

  var encoder = new TextEncoder();
  var decoder = new TextDecoder();

  // --- bytes and base64 -----------------------------------------------------------------------

  function bytesToB64(bytes) {
    var view = new Uint8Array(bytes);
    var text = "";
    for (var i = 0; i < view.length; i += 0x8000) {
      text += String.fromCharCode.apply(null, view.subarray(i, i + 0x8000));
    }
    return btoa(text);
  }

  function b64ToBytes(text) {
    var binary = atob(text); // throws on anything that is not base64
    var out = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out;
  }

  function hexToBytes(hex) {
    var out = new Uint8Array(hex.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
    return out;
  }

  /** UTF-8 as the operator makes it: a lone UTF-16 surrogate becomes "?" (Java getBytes). */
  function utf8(text) {
    var out = "";
    for (var i = 0; i < text.length; i++) {
      var c = text.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff) {
        var next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
        if (next >= 0xdc00 && next <= 0xdfff) {
          out += text.charAt(i) + text.charAt(i + 1);
          i++;
          continue;
        }
        out += "?";
      } else if (c >= 0xdc00 && c <= 0xdfff) {
        out += "?";
      } else {
        out += text.charAt(i);
      }
    }
    return encoder.encode(out);
  }

  function sha256B64(text) {
    return crypto.subtle.digest("SHA-256", utf8(text)).then(bytesToB64);
  }

  // --- DII normalisation (operator.md §3.1, src/uid2/core/dii.py EmailRule.OPERATOR) --------------

  /** The normalised email, or null if it is invalid. */
  function normalizeEmail(email) {
    if (typeof email !== "string") return null;
    var lowered = email.replace(/[A-Z]/g, function (c) {
      return String.fromCharCode(c.charCodeAt(0) + 32); // ASCII only: "Ä" stays "Ä"
    });
    var at = lowered.indexOf("@");
    if (at < 0) return null;
    var local = lowered.slice(0, at);
    var rest = lowered.slice(at + 1);
    if (rest.indexOf("@") >= 0) return null; // a second "@"
    var domain = rest.replace(/ +$/, ""); // trailing U+0020 only; inner and leading stay
    if (domain === "") return null;
    local = local.split(" ").join(""); // every local-part space goes
    if (domain === "gmail.com") {
      var plus = local.indexOf("+");
      if (plus >= 0) local = local.slice(0, plus);
      local = local.split(".").join("");
    }
    if (local === "") return null;
    return local + "@" + domain;
  }

  function isPhoneValid(phone) {
    return typeof phone === "string" && PHONE.test(phone);
  }

  /** A client-supplied hash as canonical base64, or null (44-char b64 or 64 hex). */
  function parseHash(text) {
    if (typeof text !== "string") return null;
    if (HASH_B64.test(text)) return bytesToB64(b64ToBytes(text));
    if (HASH_HEX.test(text)) return bytesToB64(hexToBytes(text));
    return null;
  }

  var DII_KINDS = ["email", "phone", "emailHash", "phoneHash"];

  /**
   * {type: "email"|"phone", hash: b64, clear: [strings the receiver must never see]}, or null.
   * Exactly one of email, phone, emailHash and phoneHash must be given.
   */
  function resolveDii(dii) {
    if (dii === null || typeof dii !== "object") return Promise.resolve(null);
    var given = DII_KINDS.filter(function (k) {
      return dii[k] !== undefined && dii[k] !== null;
    });
    if (given.length !== 1) return Promise.resolve(null);
    var kind = given[0];
    var value = dii[kind];
    if (kind === "email" || kind === "phone") {
      var normalized = kind === "email" ? normalizeEmail(value) : isPhoneValid(value) ? value : null;
      if (normalized === null) return Promise.resolve(null);
      return sha256B64(normalized).then(function (hash) {
        return { type: kind, hash: hash, clear: [value, normalized] };
      });
    }
    var hash = parseHash(value);
    if (hash === null) return Promise.resolve(null);
    return Promise.resolve({
      type: kind === "emailHash" ? "email" : "phone",
      hash: hash,
      clear: [value],
    });
  }

  /** uid2Pixel.hashIdentity({email|phone|emailHash|phoneHash}) -> Promise<b64 | null>. */
  function hashIdentity(dii) {
    return resolveDii(dii).then(function (r) {
      return r === null ? null : r.hash;
    });
  }

  // --- operator calls -------------------------------------------------------------------------

  /** Thrown when the operator cannot be reached or answers unusably: fire() says "error". */
  function OperatorError(message) {
    this.name = "OperatorError";
    this.message = message;
  }
  OperatorError.prototype = Object.create(Error.prototype);

  function post(url, body, headers) {
    return fetch(url, {
      method: "POST",
      body: body,
      headers: headers || {},
      mode: "cors",
      credentials: "omit",
      cache: "no-store",
    }).then(
      function (response) {
        return response.text().then(function (text) {
          return { status: response.status, text: text };
        });
      },
      function () {
        throw new OperatorError("network error");
      }
    );
  }

  /** Decrypts b64(IV(12) || ciphertext || tag) and parses the JSON inside. */
  function openResponse(key, text) {
    var bytes;
    try {
      bytes = b64ToBytes(text.trim());
    } catch (e) {
      return Promise.reject(new OperatorError("response is not base64"));
    }
    if (bytes.length <= GCM_IV_LENGTH + 16) {
      return Promise.reject(new OperatorError("response is too short"));
    }
    var iv = bytes.subarray(0, GCM_IV_LENGTH);
    return crypto.subtle
      .decrypt({ name: "AES-GCM", iv: iv }, key, bytes.subarray(GCM_IV_LENGTH))
      .then(function (plain) {
        return JSON.parse(decoder.decode(plain));
      })
      .catch(function () {
        throw new OperatorError("response does not decrypt");
      });
  }

  function isIdentity(body) {
    return (
      body !== null &&
      typeof body === "object" &&
      typeof body.advertising_token === "string" &&
      body.advertising_token !== "" &&
      typeof body.refresh_token === "string" &&
      typeof body.refresh_response_key === "string" &&
      typeof body.identity_expires === "number" &&
      typeof body.refresh_expires === "number" &&
      typeof body.refresh_from === "number"
    );
  }

  /** {identity} or {optout: true} from a decrypted status document; OperatorError otherwise. */
  function identityResult(doc) {
    if (doc && doc.status === "optout") return { optout: true };
    if (doc && doc.status === "success" && isIdentity(doc.body)) return { identity: doc.body };
    throw new OperatorError("unexpected operator response");
  }

  var EC = { name: "ECDH", namedCurve: "P-256" };

  /** Client-side token generation (operator.md §1.8, §7.2). */
  function clientGenerate(config, resolved) {
    var keyText = String(config.serverPublicKey).slice(SERVER_KEY_PREFIX_LENGTH);
    var serverKeyBytes;
    try {
      serverKeyBytes = b64ToBytes(keyText);
    } catch (e) {
      return Promise.reject(new OperatorError("serverPublicKey is not base64"));
    }
    var shared;
    var clientPublic;
    return Promise.all([
      crypto.subtle.importKey("spki", serverKeyBytes, EC, false, []),
      crypto.subtle.generateKey(EC, false, ["deriveKey"]),
    ])
      .then(function (keys) {
        var pair = keys[1];
        return Promise.all([
          crypto.subtle.deriveKey(
            { name: "ECDH", public: keys[0] },
            pair.privateKey,
            { name: "AES-GCM", length: 256 },
            false,
            ["encrypt", "decrypt"]
          ),
          crypto.subtle.exportKey("spki", pair.publicKey), // public keys always export
        ]);
      })
      .then(function (derived) {
        shared = derived[0];
        clientPublic = derived[1];
        var timestamp = Date.now();
        var iv = crypto.getRandomValues(new Uint8Array(GCM_IV_LENGTH));
        var plain = {};
        plain[resolved.type + "_hash"] = resolved.hash;
        var aad = encoder.encode(JSON.stringify([timestamp]));
        return crypto.subtle
          .encrypt(
            { name: "AES-GCM", iv: iv, additionalData: aad },
            shared,
            encoder.encode(JSON.stringify(plain))
          )
          .then(function (sealed) {
            return JSON.stringify({
              payload: bytesToB64(sealed), // ciphertext || tag, the IV goes separately
              iv: bytesToB64(iv),
              public_key: bytesToB64(clientPublic),
              timestamp: timestamp,
              subscription_id: config.subscriptionId,
            });
          });
      }, function (error) {
        throw error instanceof OperatorError ? error : new OperatorError("bad serverPublicKey");
      })
      .then(function (body) {
        // No Content-Type header: text/plain keeps this a CORS "simple" request (no
        // preflight); the operator reads the JSON whatever the type.
        return post(config.operatorUrl + "/v2/token/client-generate", body);
      })
      .then(function (response) {
        if (response.status !== 200) {
          throw new OperatorError("client-generate answered HTTP " + response.status);
        }
        return openResponse(shared, response.text).then(identityResult);
      });
  }

  /**
   * Refresh (operator.md §1.6): {identity}, {optout: true}, or {rejected: true} when the
   * operator refuses the refresh token (HTTP 400); OperatorError when it cannot be reached.
   */
  function refreshIdentity(config, identity) {
    var keyBytes;
    try {
      keyBytes = b64ToBytes(identity.refresh_response_key);
    } catch (e) {
      return Promise.resolve({ rejected: true });
    }
    return post(config.operatorUrl + "/v2/token/refresh", identity.refresh_token, {
      "Content-Type": "text/plain",
    }).then(function (response) {
      if (response.status === 400) return { rejected: true };
      if (response.status !== 200) {
        throw new OperatorError("refresh answered HTTP " + response.status);
      }
      return crypto.subtle
        .importKey("raw", keyBytes, { name: "AES-GCM" }, false, ["decrypt"])
        .then(function (key) {
          return openResponse(key, response.text);
        })
        .then(identityResult)
        .catch(function () {
          return { rejected: true }; // an answer we cannot read: start again with CSTG
        });
    });
  }

  // --- storage --------------------------------------------------------------------------------

  function Storage(key) {
    this.key = key;
    this.memory = null; // the last record saved, for when localStorage does not work
    this.persisted = true; // false once localStorage failed to keep a record
  }

  Storage.prototype.load = function () {
    var text = null;
    try {
      text = global.localStorage.getItem(this.key);
    } catch (e) {
      return this.memory;
    }
    if (text === null) return this.persisted ? null : this.memory;
    try {
      var record = JSON.parse(text);
      return record && typeof record === "object" ? record : null;
    } catch (e) {
      return null;
    }
  };

  Storage.prototype.save = function (record) {
    this.memory = record;
    try {
      global.localStorage.setItem(this.key, JSON.stringify(record));
      this.persisted = true;
    } catch (e) {
      this.persisted = false; // private mode, quota, storage disabled: memory only
    }
  };

  // --- the pixel ------------------------------------------------------------------------------

  function buildQuery(token, event, params, cacheBuster) {
    var parts = [];
    if (token !== null) parts.push("uid2_token=" + encodeURIComponent(token));
    parts.push("ev=" + encodeURIComponent(event));
    Object.keys(params).forEach(function (name) {
      var value = params[name];
      if (value === undefined || value === null) return;
      parts.push(encodeURIComponent(name) + "=" + encodeURIComponent(String(value)));
    });
    if (cacheBuster) parts.push("cb=" + bytesToHex(crypto.getRandomValues(new Uint8Array(8))));
    return parts.join("&");
  }

  /** False if params set a reserved name, or the event or params carry the DII (any form). */
  function paramsAllowed(event, params, resolved) {
    var forbidden = resolved.clear
      .concat([resolved.hash, bytesToHex(b64ToBytes(resolved.hash))])
      .filter(function (s) {
        return typeof s === "string" && s !== "";
      })
      .map(function (s) {
        return s.toLowerCase();
      });
    function clean(text) {
      var lowered = text.toLowerCase();
      return forbidden.every(function (s) {
        return lowered.indexOf(s) < 0;
      });
    }
    return (
      clean(event) &&
      Object.keys(params).every(function (name) {
        if (RESERVED_PARAMS[name]) return false;
        var value = params[name];
        return value === undefined || value === null || clean(name + "=" + String(value));
      })
    );
  }

  function bytesToHex(bytes) {
    return Array.prototype.map
      .call(bytes, function (b) {
        return (b < 16 ? "0" : "") + b.toString(16);
      })
      .join("");
  }

  var inFlightImages = []; // keeps each Image alive until it has loaded or failed

  function sendPixel(url) {
    var img = new Image();
    inFlightImages.push(img);
    img.onload = img.onerror = function () {
      var i = inFlightImages.indexOf(img);
      if (i >= 0) inFlightImages.splice(i, 1);
    };
    img.src = url;
  }

  // --- create ---------------------------------------------------------------------------------

  function requireString(config, name) {
    if (typeof config[name] !== "string" || config[name] === "") {
      throw new TypeError("uid2Pixel.create: config." + name + " must be a non-empty string");
    }
  }

  function create(options) {
    var config = Object.assign({}, options || {});
    ["operatorUrl", "subscriptionId", "serverPublicKey", "pixelUrl"].forEach(function (name) {
      requireString(config, name);
    });
    if (!global.crypto || !global.crypto.subtle) {
      throw new Error("uid2Pixel needs WebCrypto: serve the page over https (or http://localhost)");
    }
    config.operatorUrl = config.operatorUrl.replace(/\/+$/, "");
    var storage = new Storage(config.storageKey || DEFAULT_STORAGE_KEY);
    var pending = {}; // fingerprint -> Promise of {token} / {optout}: one operator call at a time

    function fingerprint(resolved) {
      var text = [
        "uid2-pixel",
        resolved.type,
        resolved.hash,
        config.operatorUrl,
        config.subscriptionId,
      ].join("\n");
      return sha256B64(text);
    }

    function generate(fp, resolved) {
      return clientGenerate(config, resolved).then(function (result) {
        return remember(fp, result);
      });
    }

    function remember(fp, result) {
      if (result.optout) {
        storage.save({ dii_hash_fingerprint: fp, identity: null, optout: true });
        return { token: null };
      }
      storage.save({ dii_hash_fingerprint: fp, identity: result.identity });
      return { token: result.identity.advertising_token };
    }

    /** {token: string} or {token: null} for an opted-out user; OperatorError on failure. */
    function obtainToken(fp, resolved) {
      var record = storage.load();
      if (!record || record.dii_hash_fingerprint !== fp) return generate(fp, resolved);
      if (record.optout === true) return Promise.resolve({ token: null });
      var identity = record.identity;
      var now = Date.now();
      if (!isIdentity(identity) || now >= identity.refresh_expires) {
        return generate(fp, resolved);
      }
      if (now < identity.refresh_from) {
        return Promise.resolve({ token: identity.advertising_token });
      }
      return refreshIdentity(config, identity).then(
        function (result) {
          if (result.rejected) return generate(fp, resolved);
          return remember(fp, result);
        },
        function (error) {
          // Operator unreachable: the current token is still good until identity_expires.
          if (Date.now() < identity.identity_expires) {
            return { token: identity.advertising_token };
          }
          throw error;
        }
      );
    }

    function tokenFor(fp, resolved) {
      if (!pending[fp]) {
        pending[fp] = obtainToken(fp, resolved).then(
          function (result) {
            delete pending[fp];
            return result;
          },
          function (error) {
            delete pending[fp];
            throw error;
          }
        );
      }
      return pending[fp];
    }

    function fire(event, dii, params) {
      var extra = params === undefined || params === null ? {} : params;
      if (typeof event !== "string" || event === "" || typeof extra !== "object") {
        return Promise.resolve({ status: "invalid" });
      }
      var resolved;
      return resolveDii(dii)
        .then(function (r) {
          resolved = r;
          if (resolved === null || !paramsAllowed(event, extra, resolved)) return null;
          return fingerprint(resolved).then(function (fp) {
            return tokenFor(fp, resolved);
          });
        })
        .then(function (result) {
          if (result === null) return { status: "invalid" };
          var query = buildQuery(result.token, event, extra, config.cacheBuster !== false);
          var url = config.pixelUrl + (config.pixelUrl.indexOf("?") >= 0 ? "&" : "?") + query;
          sendPixel(url);
          return { status: result.token === null ? "optout" : "sent", url: url };
        })
        .catch(function () {
          return { status: "error" };
        });
    }

    return { fire: fire, config: Object.freeze(Object.assign({}, config)) };
  }

  global.uid2Pixel = Object.freeze({
    version: VERSION,
    create: create,
    normalizeEmail: normalizeEmail,
    hashIdentity: hashIdentity,
  });
})(typeof window !== "undefined" ? window : this);
