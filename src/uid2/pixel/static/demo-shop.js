// The demo shop's checkout: fire the tracking pixel with the email typed at checkout.
(function () {
  var config = JSON.parse(document.getElementById("uid2-config").textContent);
  var pixel = uid2Pixel.create(config);
  var form = document.getElementById("checkout");
  var result = document.getElementById("result");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var email = document.getElementById("email").value;
    var order = String(Math.floor(Math.random() * 1e9));
    result.textContent = "Paying...";
    pixel.fire("purchase", {email: email}, {order: order, value: "89.00"}).then(function (r) {
      var texts = {
        sent: "Thank you! The purchase pixel went to the DSP with a UID2 token.",
        optout: "Thank you! You opted out of UID2: the pixel went without a token.",
        invalid: "Please enter a valid email address.",
        error: "Thank you! (The UID2 operator could not be reached: no pixel was sent.)"
      };
      result.textContent = texts[r.status] || r.status;
      result.dataset.status = r.status;
    });
  });
})();
